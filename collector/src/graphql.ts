import { isRecord } from './types.js';

export interface GraphqlAnswer {
  status: number;
  body: unknown;
}

function badRequest(message: string): GraphqlAnswer {
  return { status: 400, body: { errors: [{ message }], data: null } };
}

/**
 * Answers an ODP Real-Time Segments query: `{ query, variables: { userId, audiences } }`.
 * One edge per requested audience, "qualified" when segments[userId] holds it.
 */
export function answerSegmentsQuery(text: string, segments: Record<string, string[]>): GraphqlAnswer {
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch {
    return badRequest('body is not valid JSON');
  }
  if (!isRecord(request) || typeof request.query !== 'string') return badRequest('body must be { query, variables }');
  const variables = request.variables;
  if (!isRecord(variables) || typeof variables.userId !== 'string') return badRequest('variables.userId must be a string');
  const audiences = variables.audiences;
  if (!Array.isArray(audiences) || !audiences.every((name): name is string => typeof name === 'string')) {
    return badRequest('variables.audiences must be an array of strings');
  }

  const userId = variables.userId;
  if (!Object.hasOwn(segments, userId)) {
    // The identifier key is the argument of customer(...) in the query, e.g. customer(fs_user_id: $userId).
    const key = /customer\s*\(\s*(\w+)\s*:/.exec(request.query)?.[1] ?? 'fs_user_id';
    return {
      status: 200,
      body: {
        errors: [
          {
            message: `Exception while fetching data (/customer) : java.lang.RuntimeException: could not resolve _${key} = ${userId}`,
            extensions: { classification: 'DataFetchingException' },
          },
        ],
        data: { customer: null },
      },
    };
  }
  const qualified = new Set(segments[userId]);
  const edges = audiences.map((name) => ({ node: { name, state: qualified.has(name) ? 'qualified' : 'not_qualified' } }));
  return { status: 200, body: { data: { customer: { audiences: { edges } } } } };
}
