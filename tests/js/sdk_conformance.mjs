// The official LangGraph JS client (@langchain/langgraph-sdk) against a live Agent
// Server-compatible API: the calls agent-chat-ui and useStream make, checked for the shapes
// they rely on.
//
//   API_URL=http://127.0.0.1:2024 ASSISTANT_ID=agent node sdk_conformance.mjs [check ...]
//
// Optional: API_KEY (sent as x-api-key), GRAPH_ID (defaults to ASSISTANT_ID, as agent-chat-ui
// searches threads by graph_id when the assistant id is not a UUID), MARKER (a word put in
// every prompt so the caller can find these requests in the scripted model's log).
// Prompts carry the scripted model's directives ([tokens=N][pace=MS]).
//
// Prints one JSON line {ok, checks: {name: {ok, ...details} | {ok: false, error}}} and exits
// 1 when any check fails. Every check uses its own thread, so one failure hides no other.
import { Client } from "@langchain/langgraph-sdk";

const API_URL = requiredEnv("API_URL");
const ASSISTANT_ID = requiredEnv("ASSISTANT_ID");
const GRAPH_ID = process.env.GRAPH_ID || ASSISTANT_ID;
const MARKER = process.env.MARKER || `m${Date.now().toString(36)}`;
const STREAM_DEADLINE_MS = 30_000;

// No SDK retries: a refused request should fail here with its own status, not be retried.
// apiKey null keeps the SDK from picking LANGGRAPH_API_KEY & co. up from the environment.
const client = new Client({
  apiUrl: API_URL,
  apiKey: process.env.API_KEY || null,
  callerOptions: { maxRetries: 0 },
});

class Mismatch extends Error {}

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`sdk_conformance: set ${name}`);
    process.exit(2);
  }
  return value;
}

function expect(condition, message) {
  if (!condition) throw new Mismatch(message);
}

function human(text) {
  return { messages: [{ type: "human", content: text }] };
}

function textOf(content) {
  if (typeof content === "string") return content;
  return (content ?? []).map((part) => part?.text ?? "").join("");
}

/** Every part of the SSE stream `open(signal)` starts; fails if it is still open at the deadline. */
async function collect(open, onPart = () => {}) {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), STREAM_DEADLINE_MS);
  const parts = [];
  try {
    for await (const part of open(deadline.signal)) {
      parts.push(part);
      await onPart(part, parts);
    }
  } catch (error) {
    if (!deadline.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
  }
  expect(!deadline.signal.aborted, `stream still open after ${STREAM_DEADLINE_MS} ms`);
  return parts;
}

function lastValues(parts) {
  const values = parts.filter((p) => p.event === "values");
  expect(values.length > 0, `no values event in ${parts.map((p) => p.event)}`);
  return values.at(-1).data;
}

function messageTuples(parts) {
  return parts.filter((p) => p.event === "messages");
}

const checks = {
  /** GET /info: agent-chat-ui's connection check only looks at res.ok. */
  async info() {
    const headers = process.env.API_KEY ? { "x-api-key": process.env.API_KEY } : {};
    const response = await fetch(`${API_URL}/info`, { headers });
    expect(response.ok, `GET /info answered ${response.status}`);
    const body = await response.json();
    expect(body && typeof body === "object", `GET /info body is not an object: ${body}`);
    return { status: response.status, keys: Object.keys(body).sort() };
  },

  /** runs.stream with the three modes useStream asks for. */
  async stream() {
    const thread = await client.threads.create();
    let created;
    const parts = await collect((signal) =>
      client.runs.stream(thread.thread_id, ASSISTANT_ID, {
        input: human(`[tokens=12][pace=5] stream ${MARKER}`),
        signal,
        streamMode: ["messages-tuple", "values", "updates"],
        // useStream learns the run id from the Content-Location response header.
        onRunCreated: (meta) => {
          created = meta;
        },
      }),
    );
    const events = parts.map((p) => p.event);
    expect(events[0] === "metadata", `first event is ${events[0]}, not metadata`);
    const runId = parts[0].data?.run_id;
    expect(typeof runId === "string", `metadata has no run_id: ${JSON.stringify(parts[0].data)}`);
    const tuples = messageTuples(parts);
    expect(tuples.length >= 12, `${tuples.length} messages events for a 12-token answer`);
    for (const { data } of tuples) {
      expect(Array.isArray(data) && data.length === 2, `messages data is not [chunk, metadata]`);
      expect(data[0].type === "AIMessageChunk", `chunk type ${data[0].type}, not AIMessageChunk`);
      expect(data[1] && typeof data[1] === "object", "messages tuple without metadata");
    }
    const final = lastValues(parts).messages;
    const types = final.map((m) => m.type);
    expect(JSON.stringify(types) === '["human","ai"]', `final messages are ${types}`);
    const streamed = tuples.map(({ data }) => textOf(data[0].content)).join("");
    expect(streamed === textOf(final[1].content), "streamed tokens differ from the final answer");
    const updates = parts.filter((p) => p.event === "updates").map((p) => Object.keys(p.data));
    expect(updates.flat().length > 0, "no updates event");
    return {
      run_id: runId,
      events: [...new Set(events)],
      message_chunks: tuples.length,
      streamed_words: streamed.trim().split(/\s+/).length,
      final_types: types,
      chunk_ids_match_final: tuples.every(({ data }) => data[0].id === final[1].id),
      chunk_nodes: [...new Set(tuples.map(({ data }) => data[1].langgraph_node))],
      update_nodes: [...new Set(updates.flat())],
      run_created: created ?? null,
    };
  },

  /** Stop a long answer mid-stream the way a Stop button should: cancel, wait, interrupt. */
  async cancel() {
    const thread = await client.threads.create();
    let runId;
    let cancelled;
    let tokensAtCancel = 0;
    const parts = await collect(
      (signal) =>
        client.runs.stream(thread.thread_id, ASSISTANT_ID, {
          input: human(`[tokens=400][pace=20] cancel ${MARKER}`),
          streamMode: ["messages-tuple"],
          signal,
        }),
      (part, seen) => {
        if (part.event === "metadata") runId = part.data.run_id;
        const tokens = messageTuples(seen).filter(({ data }) => textOf(data[0].content)).length;
        if (cancelled === undefined && tokens >= 3) {
          tokensAtCancel = tokens;
          // Settled into a value so a refusal cannot go unhandled while the stream drains.
          cancelled = client.runs.cancel(thread.thread_id, runId, true, "interrupt").then(
            (value) => ({ value }),
            (error) => ({ error }),
          );
        }
      },
    );
    expect(cancelled !== undefined, "the answer ended before three tokens arrived");
    const answer = await cancelled;
    if (answer.error) throw answer.error;
    const run = await client.runs.get(thread.thread_id, runId);
    expect(run.status === "interrupted", `run status after cancel is ${run.status}`);
    const tokens = messageTuples(parts).filter(({ data }) => textOf(data[0].content)).length;
    expect(tokens < 400, "all 400 tokens streamed: the cancel did not stop the answer");
    const after = await client.threads.get(thread.thread_id);
    return {
      thread_id: thread.thread_id,
      run_id: runId,
      run_status: run.status,
      tokens_at_cancel: tokensAtCancel,
      tokens_streamed: tokens,
      stream_events: [...new Set(parts.map((p) => p.event))],
      cancel_answer: answer.value ?? null,
      thread_status: after.status,
    };
  },

  /** threads.getHistory: newest first, a parent-linked chain of checkpoints with values. */
  async history() {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, ASSISTANT_ID, {
      input: human(`[tokens=3] first ${MARKER}`),
    });
    const [head] = await client.threads.getHistory(thread.thread_id, { limit: 1 });
    expect(head?.checkpoint?.checkpoint_id, `history head has no checkpoint: ${JSON.stringify(head)}`);
    // useStream sends the head checkpoint (without thread_id) with the thread's next run.
    const { thread_id: _dropped, ...checkpoint } = head.checkpoint;
    await client.runs.wait(thread.thread_id, ASSISTANT_ID, {
      input: human(`[tokens=3] second ${MARKER}`),
      checkpoint,
    });
    const history = await client.threads.getHistory(thread.thread_id);
    expect(Array.isArray(history) && history.length >= 2, `history: ${JSON.stringify(history)}`);
    const counts = history.map((state) => state.values?.messages?.length ?? 0);
    expect(counts[0] === 4, `newest state has ${counts[0]} messages, not 4`);
    expect(
      counts.every((n, i) => i === 0 || n <= counts[i - 1]),
      `history is not newest first: message counts ${counts}`,
    );
    history.forEach((state, i) => {
      expect(typeof state.checkpoint?.checkpoint_id === "string", `state ${i} has no checkpoint`);
      const parent = state.parent_checkpoint?.checkpoint_id;
      const older = history[i + 1]?.checkpoint.checkpoint_id;
      // useStream rebuilds the branch tree from these links; a break reads as a fork.
      if (older) expect(parent === older, `state ${i}'s parent is ${parent}, not ${older}`);
    });
    return {
      states: history.length,
      message_counts: counts,
      state_keys: Object.keys(history[0]).sort(),
      checkpoint_keys: Object.keys(history[0].checkpoint).sort(),
      head_types: history[0].values.messages.map((m) => m.type),
    };
  },

  /** joinStream with Last-Event-ID -1 replays a finished resumable run from its start. */
  async join_from_start() {
    const thread = await client.threads.create();
    const original = await collect((signal) =>
      client.runs.stream(thread.thread_id, ASSISTANT_ID, {
        input: human(`[tokens=8][pace=5] join ${MARKER}`),
        signal,
        streamMode: ["values", "messages-tuple"],
        streamResumable: true,
      }),
    );
    expect(original[0]?.event === "metadata", "resumable stream does not start with metadata");
    const unnumbered = original.filter((p) => !p.id).map((p) => p.event);
    expect(unnumbered.length === 0, `resumable stream events without an id: ${unnumbered}`);
    const runId = original[0].data.run_id;
    const replay = await collect((signal) =>
      client.runs.joinStream(thread.thread_id, runId, { lastEventId: "-1", signal }),
    );
    const shape = (parts) => parts.map((p) => JSON.stringify([p.id, p.event, p.data]));
    expect(
      JSON.stringify(shape(replay)) === JSON.stringify(shape(original)),
      `replay from -1 differs: ${replay.length} events (${replay.map((p) => p.event)}) ` +
        `for ${original.length} streamed`,
    );
    // Resume after an id the stream used once: the Agent Server sometimes gives two events the
    // same id (langgraph#8112), and resuming after one of them skips its twin.
    const ids = original.map((p) => p.id);
    const cut = ids.findIndex((id, i) => i >= 3 && ids.indexOf(id) === ids.lastIndexOf(id));
    expect(cut >= 0 && cut < ids.length - 1, `no event id to resume after: ${ids}`);
    const rest = await collect((signal) =>
      client.runs.joinStream(thread.thread_id, runId, { lastEventId: original[cut].id, signal }),
    );
    expect(
      JSON.stringify(shape(rest)) === JSON.stringify(shape(original.slice(cut + 1))),
      `resume after event ${cut} replayed ${rest.length} events, not ${original.length - cut - 1}`,
    );
    return {
      run_id: runId,
      streamed: original.length,
      replayed: replay.length,
      resumed_after_id: rest.length,
      resumed_after_index: cut,
      duplicate_ids: ids.length - new Set(ids).size,
      first_ids: ids.slice(0, 2),
    };
  },

  /** After a run, the thread carries graph_id / assistant_id metadata and search finds it. */
  async search_by_graph_id() {
    const thread = await client.threads.create(); // no metadata, as useStream creates threads
    await client.runs.wait(thread.thread_id, ASSISTANT_ID, {
      input: human(`[tokens=2] search ${MARKER}`),
    });
    const found = await client.threads.search({ metadata: { graph_id: GRAPH_ID }, limit: 100 });
    const mine = found.find((t) => t.thread_id === thread.thread_id);
    expect(mine, `search by graph_id=${GRAPH_ID} (${found.length} threads) misses the thread`);
    expect(mine.metadata?.graph_id === GRAPH_ID, `metadata: ${JSON.stringify(mine.metadata)}`);
    expect(typeof mine.metadata?.assistant_id === "string", "no assistant_id in thread metadata");
    const other = await client.threads.search({
      metadata: { graph_id: `no-such-graph-${MARKER}` },
      limit: 100,
    });
    expect(other.length === 0, `search by an unknown graph_id found ${other.length} threads`);
    return {
      thread_id: thread.thread_id,
      metadata: mine.metadata,
      position: found.indexOf(mine),
      thread_keys: Object.keys(mine).sort(),
    };
  },
};

async function run(name) {
  try {
    return { ok: true, ...(await checks[name]()) };
  } catch (error) {
    const message = error instanceof Mismatch ? error.message : `${error?.name}: ${error?.message}`;
    return { ok: false, error: message };
  }
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in checks));
if (unknown.length) {
  console.error(`sdk_conformance: unknown check(s) ${unknown}; known: ${Object.keys(checks)}`);
  process.exit(2);
}
const results = {};
for (const name of wanted.length ? wanted : Object.keys(checks)) results[name] = await run(name);
const failed = Object.entries(results).filter(([, result]) => !result.ok);
console.log(JSON.stringify({ ok: failed.length === 0, api_url: API_URL, checks: results }));
for (const [name, result] of failed) console.error(`check ${name} failed: ${result.error}`);
process.exit(failed.length ? 1 : 0);
