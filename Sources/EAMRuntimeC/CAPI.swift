// The C API's Swift half (eam.h; eam.c checks arguments and maps files): loads an artifact from
// memory through the runtime core, plans and allocates everything a run needs at load, runs.
import CEAMAPI
import EAMFormat
import EAMRuntimeCore

/// A model behind the C API's handle: the core's model and the batch its memory is planned for.
final class CModel {
  let model: Model
  let maxBatch: Int
  let family: StaticString

  init(model: Model, maxBatch: Int) {
    self.model = model
    self.maxBatch = maxBatch
    family = switch model.manifest.architecture.family {
    case .vit, .unspecified: "vit"
    case .deit: "deit"
    case .deitDistilled: "deit-distilled"
    case .dinov2: "dinov2"
    case .swin: "swin"
    }
  }
}

private func status(_ error: RuntimeError) -> eam_status {
  error.message.withCString { message in
    if let path = error.path { path.withCString { eam_internal_set_error2($0, message) } } else { eam_internal_set_error2(nil, message) }
  }
  switch error.kind {
  case .io: return EAM_ERROR_IO
  case .memory: return EAM_ERROR_MEMORY
  case .unsupported: return EAM_ERROR_UNSUPPORTED
  case .input: return EAM_ERROR_ARGUMENT
  case .invalid: return EAM_ERROR_INVALID
  }
}

@_cdecl("eam_internal_load")
func eamInternalLoad(_ bytes: UnsafeRawPointer?, _ length: Int, _ name: UnsafePointer<CChar>,
                     _ options: UnsafePointer<eam_options>, _ handle: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> eam_status {
  let o = options.pointee
  var load = LoadOptions()
  if o.threads > 0 { load.threads = Int(o.threads) }
  load.verify = o.verify != 0
  if o.memory_budget > 0 { load.memoryBudget = o.memory_budget > UInt64(Int.max) ? Int.max : Int(o.memory_budget) }
  let path = String(cString: name)
  do throws(RuntimeError) {
    let artifact: Artifact
    do throws(FormatError) {
      artifact = try Artifact(borrowing: UnsafeRawBufferPointer(start: bytes, count: length), name: path)
    } catch { throw RuntimeError(error) }
    let model = try Model(artifact: artifact, options: load)
    let batch = Int(o.max_batch)
    if batch > 1 { _ = try model.plannedMemory(batch: batch) }
    model.reserve(batch: batch)
    handle.pointee = Unmanaged.passRetained(CModel(model: model, maxBatch: batch)).toOpaque()
    return EAM_OK
  } catch {
    return status(error)
  }
}

@_cdecl("eam_internal_free")
func eamInternalFree(_ handle: UnsafeMutableRawPointer) {
  Unmanaged<CModel>.fromOpaque(handle).release()
}

@_cdecl("eam_internal_info")
func eamInternalInfo(_ handle: UnsafeMutableRawPointer, _ info: UnsafeMutablePointer<eam_info>) {
  let c = Unmanaged<CModel>.fromOpaque(handle).takeUnretainedValue()
  let m = c.model, a = m.manifest.architecture, p = m.manifest.preprocessing
  let shape = m.inputShape
  info.pointee.channels = Int32(shape[0])
  info.pointee.height = Int32(shape[1])
  info.pointee.width = Int32(shape[2])
  info.pointee.outputs = Int32(m.outputWidth)
  info.pointee.is_classifier = a.numClasses > 0 ? 1 : 0
  info.pointee.resize_shorter_side = Int32(p.resizeShorterSide)
  info.pointee.crop_size = Int32(p.cropSize)
  info.pointee.interpolation = Int32(p.interpolation.rawValue)
  info.pointee.mean = (p.mean[0], p.mean[1], p.mean[2])
  info.pointee.std = (p.std[0], p.std[1], p.std[2])
  info.pointee.family = UnsafeRawPointer(c.family.utf8Start).assumingMemoryBound(to: CChar.self)
  info.pointee.blocks = Int32(a.family == .swin ? a.stageDepths.reduce(0, +) : a.depth)
  info.pointee.frozen_fraction = m.frozenAttentionFraction
  info.pointee.threads = Int32(m.pool.threadCount)
  info.pointee.max_batch = Int32(c.maxBatch)
  info.pointee.arena_bytes = UInt64(m.arenaBytes)
  info.pointee.planned_bytes = UInt64((try? m.plannedMemory(batch: c.maxBatch).total) ?? m.plannedMemory.total)
  info.pointee.copied_bytes = UInt64(m.copiedWeightBytes)
  info.pointee.artifact_bytes = UInt64(m.artifact.bytes.count)
}

@_cdecl("eam_internal_run")
func eamInternalRun(_ handle: UnsafeMutableRawPointer, _ input: UnsafePointer<Float>, _ batch: Int32,
                    _ output: UnsafeMutablePointer<Float>, _ count: Int) -> eam_status {
  let c = Unmanaged<CModel>.fromOpaque(handle).takeUnretainedValue()
  guard batch >= 1, Int(batch) <= c.maxBatch else {
    eam_internal_set_error("eam_run: batch outside 1…options.max_batch")
    return EAM_ERROR_ARGUMENT
  }
  let (needed, overflow) = Int(batch).multipliedReportingOverflow(by: c.model.outputWidth)
  guard !overflow, count >= needed else {
    eam_internal_set_error("eam_run: output holds fewer than batch × outputs floats")
    return EAM_ERROR_ARGUMENT
  }
  c.model.run(input, batch: Int(batch), into: output)
  return EAM_OK
}
