/**
 * Delivery lifecycle. A delivery starts `pending`, and each attempt moves it
 * to `delivered`, `retrying` or `failed`. `cancelled` ends a delivery whose
 * webhook was deleted or deactivated while it waited. A manual redelivery may
 * start a new attempt from any state except while a worker leases the delivery.
 */
export const DeliveryStatus = Object.freeze({
  pending: 'pending',
  delivered: 'delivered',
  retrying: 'retrying',
  failed: 'failed',
  cancelled: 'cancelled',
} as const);

export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = Object.freeze(Object.values(DeliveryStatus));

/** States in which a delivery waits for an automatic attempt. */
export const WAITING_STATUSES: readonly DeliveryStatus[] = Object.freeze([DeliveryStatus.pending, DeliveryStatus.retrying]);

const TRANSITIONS: Record<DeliveryStatus, readonly DeliveryStatus[]> = {
  pending: ['delivered', 'retrying', 'failed', 'cancelled'],
  retrying: ['delivered', 'retrying', 'failed', 'cancelled'],
  // Terminal states leave only through a manual redelivery's attempt.
  delivered: ['delivered', 'failed'],
  failed: ['delivered', 'failed'],
  cancelled: ['delivered', 'failed'],
};

export function isDeliveryStatus(value: string): value is DeliveryStatus {
  return (DELIVERY_STATUSES as readonly string[]).includes(value);
}

/** Checks that an attempt's outcome may follow the state the delivery was claimed in. */
export function assertTransition(from: DeliveryStatus, to: DeliveryStatus): void {
  if (!TRANSITIONS[from].includes(to)) {
    throw new Error(`invalid delivery transition from ${from} to ${to}`);
  }
}
