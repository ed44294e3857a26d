// A node:test reporter for scripts/test.mjs: a line per skipped test (with its reason) and one with the
// file's counts, each written as soon as known (--test-force-exit ends the process right after the
// last diagnostic, before a reporter's end-of-stream output would be written).
export const SUMMARY_MARK = '#odp-test-summary ';
const COUNT = /^(tests|pass|fail|cancelled|skipped|todo) (\d+)$/;

export default async function* summaryReporter(source) {
  for await (const event of source) {
    if (event.type === 'test:pass' && event.data.skip !== undefined) {
      const skip = typeof event.data.skip === 'string' ? `${event.data.name}: ${event.data.skip}` : event.data.name;
      yield `${SUMMARY_MARK}${JSON.stringify({ skip })}\n`;
    }
    if (event.type === 'test:diagnostic' && event.data.nesting === 0) {
      const match = COUNT.exec(event.data.message);
      if (match) yield `${SUMMARY_MARK}${JSON.stringify({ counts: { [match[1]]: Number(match[2]) } })}\n`;
    }
  }
}
