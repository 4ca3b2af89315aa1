// Checks benchmark configs against the JSON Schema that `bench-controller schema` prints, with
// Ajv (an independent JSON Schema implementation, in strict mode so a sloppy schema fails too)
// after reading each YAML file with the `yaml` package.
// Usage: node config_schema_check.js SCHEMA.json valid|invalid CONFIG.yaml...
// Prints "<file>: valid" or "<file>: invalid: <first errors>" per config; exits 1 when a
// config's verdict is not the expected one, 2 on a bad schema or unreadable file.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const YAML = require('yaml');

const [schemaPath, expected, ...files] = process.argv.slice(2);
if (!schemaPath || !['valid', 'invalid'].includes(expected) || files.length === 0) {
  console.error('usage: node config_schema_check.js SCHEMA.json valid|invalid CONFIG.yaml...');
  process.exit(2);
}

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
ajv.addVocabulary(['x-default']);
let validate;
try {
  validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
} catch (error) {
  console.error(`${schemaPath}: not a usable JSON Schema: ${error.message}`);
  process.exit(2);
}

let wrong = 0;
for (const file of files) {
  let document;
  try {
    document = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    console.error(`${file}: cannot read: ${error.message}`);
    process.exit(2);
  }
  const ok = validate(document);
  const errors = ok ? '' : ajv.errorsText(validate.errors.slice(0, 3), { dataVar: 'config' });
  console.log(`${path.basename(file)}: ${ok ? 'valid' : 'invalid: ' + errors}`);
  if (ok !== (expected === 'valid')) wrong++;
}
if (wrong > 0) {
  console.log(`${wrong} of ${files.length} configs were not ${expected}`);
  process.exit(1);
}
