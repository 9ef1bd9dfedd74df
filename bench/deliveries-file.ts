/**
 * Reads the deliveries that the seeding step stored, straight from the
 * SQLite file, so that the raw-limit client and the BullMQ baseline send the
 * very bodies the Dits worker sends.
 */
import Database from 'better-sqlite3';

export interface StoredDelivery {
  id: string;
  webhookId: number;
  event: string;
  body: Buffer;
  url: string;
  secret: string;
  attempts: number;
}

/** Returns every delivery of the file in queue order, with its webhook's URL and secret (stored unencrypted here). */
export function readStoredDeliveries(dbFile: string): StoredDelivery[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT d.id, d.webhook_id, d.event, b.body, d.attempts, w.url, w.secret
         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN delivery_bodies b ON b.seq = d.seq ORDER BY d.seq`,
      )
      .all() as { id: string; webhook_id: number; event: string; body: Buffer; attempts: number; url: string; secret: string }[];
    return rows.map((row) => ({
      id: row.id,
      webhookId: Number(row.webhook_id),
      event: row.event,
      body: row.body,
      url: row.url,
      secret: row.secret,
      attempts: Number(row.attempts),
    }));
  } finally {
    db.close();
  }
}
