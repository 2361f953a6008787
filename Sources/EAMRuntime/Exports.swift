// The hosted runtime: the embeddable core (EAMRuntimeCore) plus what only a full operating system
// needs — benchmarking, attention timing and the process's peak memory.
@_exported import EAMRuntimeCore
