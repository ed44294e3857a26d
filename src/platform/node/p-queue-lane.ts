import PQueue from 'p-queue';
import type { Lane } from '../../dispatcher/lane';

/** The Node lane: p-queue, with its concurrency limit and priorities. */
export function createPQueueLane(concurrency: number): Lane {
  const queue = new PQueue({ concurrency });
  return {
    // Deferred like every lane's add: no request work runs inside sendOdpEvent.
    add: (task, priority) => queueMicrotask(() => void queue.add(task, { priority })),
    pause: () => queue.pause(),
    start: () => void queue.start(),
    clear: () => queue.clear(),
    resize: (concurrency) => {
      queue.concurrency = concurrency;
    },
  };
}
