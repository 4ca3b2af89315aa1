// hdr-histogram-js for the interop scripts: from NODE_PATH (set by ctest), else from
// tests/node/node_modules next to the sources (run by hand).
"use strict";

const path = require("path");

try {
  module.exports = require("hdr-histogram-js");
} catch (e) {
  module.exports = require(path.join(__dirname, "..", "node", "node_modules", "hdr-histogram-js"));
}
