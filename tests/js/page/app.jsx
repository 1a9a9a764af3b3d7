// A chat page built on useStream the way agent-chat-ui uses it (src/providers/Stream.tsx,
// Thread.tsx, components/thread/index.tsx), trimmed to what the tests look at. Every element
// a test waits on carries a data-testid; state the tests read is in data-* attributes.
//
// Query parameters, as agent-chat-ui takes them: apiUrl, assistantId, apiKey (optional),
// threadId (kept up to date, so a reload reopens the thread).
import { useCallback, useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { Client } from "@langchain/langgraph-sdk";
import { useStream } from "@langchain/langgraph-sdk/react";

const params = new URLSearchParams(window.location.search);
const apiUrl = params.get("apiUrl");
const assistantId = params.get("assistantId");
const apiKey = params.get("apiKey") || undefined;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// agent-chat-ui lists threads by assistant_id for a UUID, by graph_id for a graph name.
function threadSearchMetadata(id) {
  return UUID.test(id) ? { assistant_id: id } : { graph_id: id };
}

function textOf(content) {
  if (typeof content === "string") return content;
  return (content ?? []).map((part) => (part?.type === "text" ? part.text : "")).join("");
}

/** The threadId query parameter as state (agent-chat-ui keeps it there with nuqs). */
function useThreadIdParam() {
  const [threadId, setState] = useState(params.get("threadId"));
  const setThreadId = useCallback((id) => {
    const url = new URL(window.location.href);
    if (id) url.searchParams.set("threadId", id);
    else url.searchParams.delete("threadId");
    window.history.replaceState(null, "", url);
    setState(id);
  }, []);
  return [threadId, setThreadId];
}

/** GET /info, as agent-chat-ui's checkGraphStatus does before anything else. */
function useServerCheck() {
  const [state, setState] = useState("checking");
  useEffect(() => {
    const headers = apiKey ? { "X-Api-Key": apiKey } : {};
    fetch(`${apiUrl}/info`, { headers })
      .then((response) => setState(response.ok ? "ok" : `failed: HTTP ${response.status}`))
      .catch((error) => setState(`failed: ${error}`));
  }, []);
  return state;
}

function useThreadList(client) {
  const [threads, setThreads] = useState({ state: "loading", items: [] });
  const refresh = useCallback(() => {
    client.threads
      .search({ metadata: threadSearchMetadata(assistantId), limit: 100 })
      .then((items) => setThreads({ state: "loaded", items }))
      .catch((error) => setThreads({ state: `failed: ${error}`, items: [] }));
  }, [client]);
  useEffect(refresh, [refresh]);
  return [threads, refresh];
}

function App() {
  const server = useServerCheck();
  const client = useMemo(() => new Client({ apiUrl, apiKey }), []);
  const [threads, refreshThreads] = useThreadList(client);
  const [threadId, setThreadId] = useThreadIdParam();
  const [runId, setRunId] = useState(null);
  const [stopState, setStopState] = useState("idle");
  const [finished, setFinished] = useState(0);
  const [input, setInput] = useState("");

  const stream = useStream({
    apiUrl,
    apiKey,
    assistantId,
    threadId,
    onThreadId: setThreadId,
    fetchStateHistory: true,
    // Keeps the run id in sessionStorage, so a reload rejoins the run from its first event
    // (joinStream with Last-Event-ID: -1).
    reconnectOnMount: true,
    // The run id comes from the Content-Location header of the stream response, readable
    // cross-origin only if the API exposes it.
    onCreated: (run) => setRunId(run.run_id),
    // Called once a run's stream has ended and the thread's history has been fetched again.
    onFinish: () => {
      setFinished((count) => count + 1);
      refreshThreads();
    },
  });

  const onSubmit = (event) => {
    event.preventDefault();
    if (!input.trim() || stream.isLoading) return;
    const newHumanMessage = {
      id: crypto.randomUUID(),
      type: "human",
      content: [{ type: "text", text: input }],
    };
    setRunId(null);
    setStopState("idle");
    stream.submit(
      { messages: [newHumanMessage] },
      {
        streamMode: ["values"],
        streamSubgraphs: true,
        streamResumable: true,
        optimisticValues: (prev) => ({
          ...prev,
          messages: [...(prev.messages ?? []), newHumanMessage],
        }),
      },
    );
    setInput("");
  };

  // agent-chat-ui's Cancel button calls stream.stop(), which only aborts this tab's fetch: the
  // stream was made resumable, so the server keeps the run going (on_disconnect "continue") and
  // the model keeps generating, and billing. useStream's stop() cancels the run only when
  // reconnectOnMount stored its id, and then without waiting for the outcome. This Stop
  // cancels the run itself and waits until the server says it stopped; the server then ends
  // the SSE stream, which is what ends isLoading here.
  const onStop = async () => {
    const id = runId ?? window.sessionStorage.getItem(`lg:stream:${threadId}`);
    setStopState("stopping");
    try {
      await stream.client.runs.cancel(threadId, id, true, "interrupt");
      setStopState("stopped");
    } catch (error) {
      setStopState(`failed: ${error}`);
    }
  };

  return (
    <main>
      <p data-testid="server" data-state={server}>
        server: {server}
      </p>
      <p data-testid="thread-id">{threadId ?? ""}</p>
      <section
        data-testid="chat"
        data-loading={String(stream.isLoading)}
        data-thread-loading={String(stream.isThreadLoading)}
        data-run-id={runId ?? ""}
        data-stop={stopState}
        data-finished={finished}
      >
        {stream.messages.map((message, index) => (
          <p data-testid="message" data-type={message.type} key={message.id ?? index}>
            {textOf(message.content)}
          </p>
        ))}
      </section>
      <p data-testid="error">{stream.error ? String(stream.error) : ""}</p>
      <form onSubmit={onSubmit}>
        <input data-testid="input" value={input} onChange={(e) => setInput(e.target.value)} />
        <button data-testid="send" type="submit" disabled={stream.isLoading}>
          Send
        </button>
        <button
          data-testid="stop"
          type="button"
          disabled={!stream.isLoading || !threadId}
          onClick={onStop}
        >
          Stop
        </button>
      </form>
      <ul data-testid="threads" data-state={threads.state}>
        {threads.items.map((thread) => (
          <li data-testid="thread-item" data-thread-id={thread.thread_id} key={thread.thread_id}>
            {thread.thread_id}
          </li>
        ))}
      </ul>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
