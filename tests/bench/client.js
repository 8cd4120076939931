// The Node clients of the benchmark: N concurrent streamed calls, written
// the way a user would write them instead of using drove.
//   node client.js fetch|anthropic|openai N BASE_URL
// BASE_URL is the API root (https://127.0.0.1:PORT); the CA comes from
// NODE_EXTRA_CA_CERTS.  Prints each answer's text on a line of its own;
// exits 1 when a call failed.
'use strict';

const [kind, nArg, base] = process.argv.slice(2);
const n = Number(nArg);
const key = process.env.BENCH_KEY || 'sk-bench';
const prompt = 'Say something.';

// Promise.all over fetch, reading the Server-Sent Events by hand
async function viaFetch() {
	const one = async () => {
		const res = await fetch(base + '/v1/messages', {
			method: 'POST',
			headers: {
				'content-type': 'application/json',
				'x-api-key': key,
				'anthropic-version': '2023-06-01',
			},
			body: JSON.stringify({
				model: 'claude-bench',
				max_tokens: 1024,
				stream: true,
				messages: [{ role: 'user', content: prompt }],
			}),
		});
		if (!res.ok)
			throw new Error('HTTP ' + res.status);
		const dec = new TextDecoder();
		let buf = '', text = '';
		for await (const chunk of res.body) {
			buf += dec.decode(chunk, { stream: true });
			let i;
			while ((i = buf.indexOf('\n\n')) >= 0) {
				const ev = buf.slice(0, i);
				buf = buf.slice(i + 2);
				for (const line of ev.split('\n')) {
					if (!line.startsWith('data: '))
						continue;
					const d = JSON.parse(line.slice(6));
					if (d.type === 'content_block_delta' &&
					    d.delta.type === 'text_delta')
						text += d.delta.text;
				}
			}
		}
		return text;
	};
	return Promise.all(Array.from({ length: n }, one));
}

// the official SDK, streaming as its README shows
async function viaAnthropic() {
	const Anthropic = require('@anthropic-ai/sdk');
	const client = new Anthropic({ apiKey: key, baseURL: base,
	    maxRetries: 0 });
	const one = async () => {
		const stream = await client.messages.create({
			model: 'claude-bench',
			max_tokens: 1024,
			stream: true,
			messages: [{ role: 'user', content: prompt }],
		});
		let text = '';
		for await (const ev of stream) {
			if (ev.type === 'content_block_delta' &&
			    ev.delta.type === 'text_delta')
				text += ev.delta.text;
		}
		return text;
	};
	return Promise.all(Array.from({ length: n }, one));
}

async function viaOpenai() {
	const OpenAI = require('openai');
	const client = new OpenAI({ apiKey: key, baseURL: base + '/v1',
	    maxRetries: 0 });
	const one = async () => {
		const stream = await client.chat.completions.create({
			model: 'gpt-bench',
			stream: true,
			messages: [{ role: 'user', content: prompt }],
		});
		let text = '';
		for await (const chunk of stream)
			text += chunk.choices[0]?.delta?.content || '';
		return text;
	};
	return Promise.all(Array.from({ length: n }, one));
}

const run = { fetch: viaFetch, anthropic: viaAnthropic,
    openai: viaOpenai }[kind];
if (!run || !(n > 0) || !base) {
	process.stderr.write('usage: node client.js fetch|anthropic|openai ' +
	    'N BASE_URL\n');
	process.exit(2);
}
run().then((texts) => {
	process.stdout.write(texts.join('\n') + '\n');
}, (err) => {
	process.stderr.write('client.js: ' + err + '\n');
	process.exit(1);
});
