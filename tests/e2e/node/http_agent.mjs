// A real AG-UI client against the gateway: @ag-ui/client's HttpAgent posts one prompt
// to POST /ag-ui and prints the agent's resulting message list as JSON.
//
//   node http_agent.mjs <url> <bearer token> <prompt>
import { HttpAgent } from "@ag-ui/client";

const [url, token, prompt] = process.argv.slice(2);
if (!url || !token || !prompt) {
  console.error("usage: node http_agent.mjs <url> <token> <prompt>");
  process.exit(2);
}

const agent = new HttpAgent({ url, headers: { Authorization: `Bearer ${token}` } });
agent.addMessage({ id: "user-1", role: "user", content: prompt });
const seen = [];
await agent.runAgent({}, { onEvent: ({ event }) => void seen.push(event.type) });
process.stdout.write(JSON.stringify({ messages: agent.messages, events: seen }));
