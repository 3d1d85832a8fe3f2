// How often this process's main thread has blocked (gone to sleep waiting, e.g. in epoll_wait).
import fs from 'node:fs';

/**
 * Voluntary context switches of the calling process's main thread so far (Linux: /proc/self/status),
 * or NaN where that file does not exist. Each is a sleep the other side of a loopback connection had to
 * wake it from — on a virtual machine one of the costlier things a request does.
 */
export function sleepsSoFar() {
  try {
    const match = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return match === null ? NaN : Number(match[1]);
  } catch {
    return NaN;
  }
}
