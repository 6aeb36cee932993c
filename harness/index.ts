/**
 * migtest's public entry: everything a suite (or a scenario written outside this project)
 * uses comes from here; `harness/layers.test.ts` fails when a suite reaches deeper. Grouped
 * by what a scenario author does: declare a case, write a scenario, drive a pair step by
 * step, touch the guest, break things, read QEMU.
 */

// Declaring a case: what to migrate, how, what breaks, what must happen.
export type {
  CaseHooks,
  CasePatch,
  CaseReport,
  Episode,
  Expectation,
  FaultSpec,
  MigratingRun,
  MigrationCase,
  MigrationSpec,
  Mode,
  Outcome,
  PairRun,
  PreparedRun,
  RecoverySpec,
  SideSetup,
  XFail,
} from './case/model.js';
export { fault } from './case/faults.js';
export { when, type Trigger } from './migration/triggers.js';
export { MODES } from './case/drivers/index.js';
export { DEFAULT_WORKLOAD, POSTCOPY_WORKLOAD, beginCase, runCase, startPair } from './case/run.js';
export { caseRow } from './case/row.js';
export { CaseError } from './case/finish.js';
export { checkOutcome, describeOutcome, expectedLabel, outcomeLabel } from './case/expect.js';
export { expectFor, expectationOf, lacksFor, refusedStream, type ExpectationContext } from './case/expectations.js';
export { MIRROR_BASE, type StorageSpec } from './case/storage.js';

// Writing a scenario: vitest glue, the arches of the run, what the host or binary lacks.
export { caseScenario, scenario, mergeRow, type ScenarioContext, type ScenarioMeta } from './testing/scenario.js';
export { testArches } from './testing/arches.js';
export { lacksCapability, runQemu, skipUnless } from './testing/requires.js';
export { matrixSuite } from './testing/matrix-suite.js';
export { eventTimeMs, GUEST_MAC, lacksVhostNet, startLanPair } from './testing/net.js';

// Producers of cases: capability matrices, compatibility pairs and grids.
export { cellCase } from './matrix/cases.js';
export { cpuCases } from './compat/cpus.js';
export { deviceCases, machineTypeCase } from './compat/devices.js';
export { expandGrid, loadGrid } from './compat/grid.js';
export { crossVersionCases, gridVersions } from './compat/versions.js';
export { withStaticCheck } from './compat/static.js';
export { pairCase } from './compat/model.js';

// The migration underneath: transports, settings, figures, postcopy and recovery steps.
export { fileTransportPath, TRANSPORTS, TRANSPORT_KINDS, transportKind, type Transport, type TransportKind } from './migration/transport.js';
export type { MigrationResult, RunningMigration, Side } from './migration/migrate.js';
export { migrationFigures, type MigrationFigures } from './migration/verify.js';
export { postcopySettings } from './migration/postcopy.js';
export { beginRecovery, measureEpisode, pauseSides, recoverPostcopy, waitBothPaused } from './migration/recovery.js';
export { migrateToFile, type FileMigration } from './migration/file.js';
export { dumpStream } from './migration/stream.js';
export { CLIENT_IDENTITY, generateX509, type TlsSpec } from './migration/tls.js';
export { DOWNTIME_TRACE_ARGS } from './migration/downtime-trace.js';
export { assertSourceIntact } from './migration/checks.js';
export { GuestLostError, MigrationFailedError } from './migration/errors.js';

// VMs: the builder, a started VM, snapshots, QMP jobs.
export { SECURE_BOOT_MIN_MIB, VmBuilder, type BootImage } from './vm/builder.js';
export type { StartedVm, StoppedVm } from './vm/started.js';
export type { DiskSpec, MemoryBackend, NicSpec } from './vm/spec.js';
export { ARCH_DEFAULTS } from './vm/spec.js';
export { Scope, VmPool, type Stoppable } from './vm/pool.js';
export { SnapshotCache, snapshotKey } from './vm/snapshot.js';
export { snapshotDelete, snapshotLoad, snapshotSave, type SnapshotTarget } from './vm/snapshots.js';
export { JobFailedError, runJob } from './vm/jobs.js';
export { QemuExitedError, VmStartError } from './vm/errors.js';

// The guest: liveness, the RAM pattern, fio.
export { checkLivenessAfterMigration, checkLivenessSteady, handover, largestGap, LivenessError } from './guest/liveness.js';
export { RamIntegrityError, RamWorkload } from './guest/ramcheck.js';
export { DiskIntegrityError, FioWorkload } from './guest/fio.js';

// Storage: data disks, images, virtqueues, mirrors.
export { dataDisk, fioOn, guestDevice, throttledDataDisk, waitForWrites } from './storage/data-disk.js';
export { createImage } from './storage/image.js';
export { deviceWrites, diskQueue, InflightSampler, queueStatus } from './storage/virtio-queue.js';
export type { MirrorSync } from './storage/nbd-mirror.js';

// Breaking things by hand (cases use `fault`): bridges, namespaces, nftables, disks, gdb.
export { BridgeChain, parseTcpUri, SocatBridge } from './faults/bridge.js';
export { NetnsLink } from './faults/netns.js';
export { PortBlackhole } from './faults/nft.js';
export { HostPartition } from './faults/host-partition.js';
export { failWritesAfterFlush, flushDisk, loseWrite } from './faults/disk.js';
export { writeGuestPhysical } from './faults/gdb.js';
export { NetLivenessError } from './net/probe.js';
export { hostsDown, hostsUp, setControlLink, topologyUp } from './net/topology.js';

// QEMU binaries and what they do.
export { compareVersions, findBinary, listBinaries, type QemuBinary } from './qemu/catalog.js';
export { probeBinary, type QemuProbe } from './qemu/probe.js';
export { probeBoot, runAccel } from './qemu/accel.js';
export { behaviourOf, KNOWN_FAILURES, unknownSectionWords, type Behaviour, type KnownFailure } from './qemu/behaviour.js';
export { KNOWN_BREAKS } from './qemu/known-breaks.js';
export { KNOWN_FLAKES, knownFlake, type KnownFlake } from './case/known-flakes.js';
export { RULES } from './qemu/rules.js';
export { QmpCommandError } from './qmp/errors.js';
export { GuestResetError } from './qmp/agent.js';
export type { MigrationInfo, MigrationStatus, QmpEvent, RunState } from './qmp/types.js';
export { QmpClient } from './qmp/client.js';

// Hosts, processes, ports.
export { freePort, loopbackListener } from './host/ports.js';
export { GroupProcess } from './host/process.js';
export { isAlive } from './host/procfs.js';
export { imageLocks, type ImageLocks } from './host/locks.js';
export { loadHostsFile, sshTarget, type HostsFile } from './host/hosts-file.js';
export { ControlLinkError, HostKeyError, SshHost } from './host/ssh/host.js';

// Results, reports, time.
export { ArtifactDir } from './report/artifacts.js';
export { readResults, type ScenarioResult } from './report/results.js';
export { toHtml } from './report/html.js';
export { reproPlan, reproScript } from './report/repro.js';
export { DEADLINES, deadline, scale, type Wait } from './util/deadlines.js';
export { pollUntil } from './util/time.js';
export { MigtestError, SkipError } from './util/errors.js';
export { parseArch, type Accel, type Arch } from './util/arch.js';
export { repoRoot } from './util/paths.js';
export { runConfig } from './util/run-config.js';
export { efiState, readEfiVariable, storedName, writeEfiVariable, MIGTEST_EFI_GUID } from './guest/efi.js';
export { FIRMWARES, secureBootKeys, uefiFirmware, type FirmwareKind, type SecureBootKeys, type UefiFirmware } from './images/firmware.js';
export { buildImage, findImage } from './images/build.js';
export { userDiskFormat } from './images/user.js';
export { CONTRACT_FILES, checkContract, describeContract, type ContractReport } from './guest/contract.js';
