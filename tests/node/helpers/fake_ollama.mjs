// A tiny stand-in for an Ollama server, for Node and browser tests (the Python tests have
// tests/curriculum/fake_ollama.py): answers POST /api/chat on 127.0.0.1 with whatever `answer(body)` returns
// as the assistant's message content, and RECORDS every request.
//
//   const ollama = await startFakeOllama((body) => JSON.stringify({ steps: [...] }));
//   const demo = await startDemo({ env: { DOJO_OLLAMA_HOST: ollama.url } });
//   ...; await ollama.stop();   // from then on the "model" is down: connections are refused
import http from 'node:http';

export async function startFakeOllama(answer) {
  const received = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => { raw += chunk; });
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/api/tags') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ models: [{ name: 'qwen2.5vl:3b', model: 'qwen2.5vl:3b' }] }));
        return;
      }
      const body = JSON.parse(raw || '{}');
      received.push(body);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ model: body.model, created_at: new Date().toISOString(), done: true,
        message: { role: 'assistant', content: answer(body) } }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    received,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** The child's sentence as the planner sent it (the last line of its user message). */
export function sentenceOf(body) {
  const user = body.messages?.at(-1)?.content || '';
  const m = /The child's sentence: (".*")/.exec(user);
  return m ? JSON.parse(m[1]) : '';
}
