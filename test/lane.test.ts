import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PriorityLane, type Lane } from '../src/dispatcher/lane';
import { createPQueueLane } from '../src/platform/node/p-queue-lane';
import { sleep } from './support/helpers';

// One contract, two implementations: Node's p-queue lane and the browsers' small lane must agree.
const lanes: Array<[string, (concurrency: number) => Lane]> = [
  ['p-queue (Node)', createPQueueLane],
  ['PriorityLane (browsers)', (concurrency) => new PriorityLane(concurrency)],
];

/** A task that records its start and finishes when released. */
function recorder() {
  const started: string[] = [];
  const releases = new Map<string, () => void>();
  const task = (name: string) => () =>
    new Promise<void>((resolve) => {
      started.push(name);
      releases.set(name, resolve);
    });
  const release = async (name: string) => {
    releases.get(name)!();
    await sleep(1);
  };
  return { started, task, release };
}

for (const [name, create] of lanes) {
  describe(`lane contract: ${name}`, { timeout: 30_000 }, () => {
    test('never runs a task inside add(); at most `concurrency` run at once', async () => {
      const lane = create(2);
      const { started, task, release } = recorder();
      for (const n of ['a', 'b', 'c']) lane.add(task(n), 0);
      assert.deepEqual(started, [], 'nothing starts synchronously');
      await sleep(1);
      assert.deepEqual(started, ['a', 'b']);
      await release('a');
      assert.deepEqual(started, ['a', 'b', 'c']);
      await release('b');
      await release('c');
    });

    test('higher priorities first, equal priorities in the order added', async () => {
      const lane = create(1);
      const { started, task, release } = recorder();
      lane.add(task('first'), 0); // takes the only slot
      await sleep(1);
      lane.add(task('n1'), 0);
      lane.add(task('n2'), 0);
      lane.add(task('p1'), 1);
      lane.add(task('p2'), 2);
      lane.add(task('n3'), 0);
      for (const n of ['first', 'p2', 'p1', 'n1', 'n2', 'n3']) {
        await sleep(1);
        assert.equal(started.at(-1), n);
        await release(n);
      }
    });

    test('pause holds new starts, start resumes; clear forgets what has not started', async () => {
      const lane = create(1);
      const { started, task, release } = recorder();
      lane.pause();
      lane.add(task('a'), 0);
      lane.add(task('b'), 0);
      await sleep(5);
      assert.deepEqual(started, []);
      lane.start();
      await sleep(1);
      assert.deepEqual(started, ['a']);
      lane.clear();
      await release('a');
      await sleep(5);
      assert.deepEqual(started, ['a'], 'b was cleared');
      lane.add(task('c'), 0);
      await sleep(1);
      assert.deepEqual(started, ['a', 'c']);
      await release('c');
    });

    test('a long backlog drains in order', async () => {
      const lane = create(1);
      const seen: number[] = [];
      for (let i = 0; i < 5000; i++) lane.add(async () => void seen.push(i), 0);
      while (seen.length < 5000) await sleep(5);
      assert.deepEqual(seen, Array.from({ length: 5000 }, (_, i) => i));
    });
  });
}
