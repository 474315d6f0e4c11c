// SPDX-License-Identifier: Apache-2.0
export {
  AUDIT_SCHEMA,
  appendAuditEvent,
  createAuditEvent,
  singleFileSha256,
  type AuditEvent,
  type AuditInput,
} from './audit-event.js';
