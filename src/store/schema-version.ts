/**
 * Rejects a database whose schema a newer release wrote. Running older code
 * on it could read columns that have moved or write rows that the newer
 * schema no longer accepts, so the store refuses to open it instead.
 */
export function assertKnownSchema(current: number, migrations: readonly { version: number }[], database: string): void {
  const latest = Math.max(0, ...migrations.map((migration) => migration.version));
  if (current > latest) {
    throw new Error(
      `${database} has schema version ${current}, newer than the ${latest} this release knows; run the newer Dits Webhooks release that wrote it, or restore a backup made before the upgrade`,
    );
  }
}
