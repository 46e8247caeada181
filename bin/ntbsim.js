#!/usr/bin/env node
require('../dist/tools/cli/main.js');
