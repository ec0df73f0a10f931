import type { Secret } from '../gerrit/secret';
import type { NotificationType, Severity, WebhookFilter } from '../domain/notify-events';

/** A configured webhook (DEPCANARY_WEBHOOKS); its secret never leaves the Secret. */
export interface Webhook extends WebhookFilter {
  name: string;
  url: string;
  secret: Secret;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * One webhook delivery in the outbox's webhooks lane: the message (body and id fixed at
 * fan-out, so every retry sends the same bytes), and what its attempts got.
 */
export interface Delivery {
  /** `<webhook>:<feed entry id>` */
  id: string;
  webhook: string;
  /** Standard Webhooks `webhook-id` (the CloudEvent id). */
  msgId: string;
  type: NotificationType;
  severity: Severity;
  rolloutId: string;
  library: string;
  body: string;
  createdAt: number;
  attempts: number;
  status: DeliveryStatus;
  lastStatus?: number;
  lastError?: string;
  lastAttemptAt?: number;
  nextAttemptAt?: number;
  deliveredAt?: number;
}
