/// The version of eamc, as `--version` prints it and every artifact and report records it.
public enum EAMVersion {
  public static var text: String { Emitter.producerVersion }
}
