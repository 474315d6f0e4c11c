// SPDX-License-Identifier: Apache-2.0
export { GgufScanner } from './gguf-scanner.js';
export { analyzeChatTemplate, type TemplateIssue } from './chat-template.js';
export { GGUF_RULES } from './rules.js';
