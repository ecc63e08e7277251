/**
 * One view of the metrics of several OS processes through a directory they share, like the
 * Python client's multiprocess mode.
 *
 * Each process calls {@linkcode publishToDirectory}: it writes its registry's snapshot as JSON to
 * `snapshot-<pid>-<random>.json` every `intervalMs`, on `flush()`, and at exit (`close()`, the
 * end of the program or `Deno.exit()`). Every write goes to a temporary file (named with a
 * leading `.` and ending in `.tmp`) renamed over the old one, so readers see the previous
 * snapshot or the next one, never half of one, even when the writer is killed mid-write.
 *
 * An exporter calls {@linkcode directoryCollector} (or a publishing process serves its
 * publisher) and merges every file at scrape time by the rules of {@linkcode mergeSnapshots}.
 * Only regular files are read (never a link, FIFO or device), up to `maxFileBytes`. A file that
 * cannot be read or parsed is counted and reported (once per streak), and while it stays so,
 * the collector keeps counting the last good copy it read of it; the same holds for
 * `retired.json`, which is then never overwritten. So garbage never makes a counter go back.
 *
 * Liveness: every writer holds an exclusive lock (`flock`) on `snapshot-<instance>.lock` while it
 * runs. The kernel releases it when the process ends, however it ends, and not while the process
 * is merely stopped (a paused container, `SIGSTOP`, a suspended host). So a writer whose lock is
 * held is live and never retired, however long it has been silent; one whose lock is free is
 * dead and retired at once. Where there is no lock file (a file system without locks) a process
 * is dead once its file is final (it exited normally) or has not changed for `deadAfterMs`,
 * measured on the exporter's monotonic clock, so a wall-clock step cannot age a file. A dead
 * process's counters, histograms, summaries and non-`live` gauges stay counted; its `live*`
 * gauges, info and state sets drop out.
 *
 * Retirement, so files cannot pile up: when a collection sees a file that is final, of a process
 * gone, or silent for more than `retireAfterMs`, it folds that file's data into `retired.json`
 * and deletes it, under an exclusive lock on `.retire.lock` so concurrent exporters never fold a
 * file twice. `retired.json` notes the last write folded in of every process, and keeps the data
 * of the last 32 processes retired while perhaps only stalled: should one of them write again,
 * only what it added since its retirement counts (nothing twice, nothing lost).
 *
 * @module
 */

export {
  DirectoryCollector,
  directoryCollector,
  type DirectoryCollectorOptions,
} from "./directory/collector.ts";
export {
  DirectoryPublisher,
  type DirectoryPublisherOptions,
  publishToDirectory,
} from "./directory/publisher.ts";
