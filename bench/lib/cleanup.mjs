// What must be undone if the run is interrupted (Ctrl-C): child processes to
// stop, bench schemas and key prefixes to remove. Parts register and
// unregister; bench/run.mjs runs whatever is left on SIGINT/SIGTERM.
const pending = new Set();

/** Registers `undo`; returns a function that unregisters it (call it once done normally). */
export function onInterrupt(undo) {
  pending.add(undo);
  return () => pending.delete(undo);
}

/** Runs every registered undo (each at most once), newest first. */
export async function undoAll() {
  const undos = [...pending].reverse();
  pending.clear();
  for (const undo of undos) {
    try {
      await undo();
    } catch (err) {
      process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}
