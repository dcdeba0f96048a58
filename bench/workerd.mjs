// The CPU local workerd spends, read from /proc: what a benchmark charges to the worker.
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** Nanoseconds of CPU the workerd process (Miniflare's runtime, a child of this one) has used. */
export function workerdCpuNs() {
  if (!existsSync("/proc")) return NaN; // Linux only
  let total = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    if (ppid !== process.pid || !comm.startsWith("workerd")) continue;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return total;
}

