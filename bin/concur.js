#!/usr/bin/env node
// The `concur` command; the code is in dist/cli/main.js (src/cli/).
import '../dist/cli/main.js';
