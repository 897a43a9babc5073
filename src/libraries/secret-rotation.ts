import { withTransaction, type Pool } from '../db/pg-pool.ts';
import { sealedColumns, type SealedValueQueries } from '../queries/sealed-value-queries.ts';
import type { SecretBox } from './secret-box.ts';

/**
 * `gatehouse secrets reencrypt`: after GATEHOUSE_SECRET changed (the old one in GATEHOUSE_PREVIOUS_SECRETS), seals
 * every stored secret again under the new one, in one transaction. Afterwards the previous secret can go.
 * @returns how many values each table had re-sealed
 */
export async function reencryptSecrets(deps: {
  pool: Pool;
  queries: SealedValueQueries;
  secretBox: SecretBox;
}): Promise<Record<string, number>> {
  return withTransaction(deps.pool, async (tx) => {
    const counts: Record<string, number> = {};
    for (const column of sealedColumns) {
      let count = 0;
      for (const row of await deps.queries.list(column)) {
        if (deps.secretBox.isCurrent(row.sealed)) continue;
        const plaintext = deps.secretBox.open(row.sealed, column.context);
        if (
          await deps.queries.replace(
            column,
            row.key,
            row.sealed,
            deps.secretBox.seal(plaintext, column.context),
            tx,
          )
        )
          count += 1;
      }
      counts[column.table] = count;
    }
    return counts;
  });
}
