/**
 * What Gatehouse knows of Postgres's SQLSTATE codes (PostgreSQL manual, Appendix A), in one place: callers ask a
 * question ("was this a unique violation?") instead of matching codes themselves.
 */
const sqlStateOf = (error: unknown): string | undefined => {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

/** 23505: a row with that key exists already (two concurrent writes of one unique value: the index decided). */
export const isUniqueViolation = (error: unknown) => sqlStateOf(error) === '23505';

/** 23503: a row names one that does not exist (deleted since it was checked). */
export const isForeignKeyViolation = (error: unknown) => sqlStateOf(error) === '23503';

/**
 * Class 22 (data exception) or 23 (integrity constraint violation): the statement's input was wrong, not the server
 * (input that slipped past validation).
 */
export const isBadInput = (error: unknown) => /^(22|23)/.test(sqlStateOf(error) ?? '');

/** Classes 08 (connection exception) and 57P (operator intervention: shutdown, restart): the database is away. */
export const isDatabaseAway = (error: unknown) => /^(08|57P)/.test(sqlStateOf(error) ?? '');
