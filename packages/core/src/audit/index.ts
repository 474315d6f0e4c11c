// SPDX-License-Identifier: Apache-2.0
export {
  AUDIT_SCHEMA,
  appendAuditEvent,
  createAuditEvent,
  type AuditEvent,
  type AuditInput,
} from './audit-event.js';
