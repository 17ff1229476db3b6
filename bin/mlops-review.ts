#!/usr/bin/env node
// Runs the review CLI from source (`npm run review -- --base <dir> --head <dir>`); the published package runs
// dist/review/bin.js, compiled from the same file.
import '../lib/review/bin';
