#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The OMS conformance adapter (docs/conformance.md).
import { adapterMain } from '../dist/oms-adapter.js';

process.exitCode = await adapterMain(process.argv.slice(2));
