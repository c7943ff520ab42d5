/**
 * The Store contract (store.ts) on PostgreSQL, for replicas sharing one
 * database: one method per contract operation in PostgreSQL's SQL (one idea,
 * hence one file); the schema is in migrations.ts, the named locks in
 * locks.ts, scheduler leadership in leadership.ts.
 */
import { SQL } from "bun";
import { AdvisoryLocks, checkLocksStillHeld } from "./locks.ts";
import { migrate } from "./migrations.ts";
import type { ContentIndex } from "../contents.ts";
import { PostgresContentIndex } from "./contents.ts";
import {
  FINISHED_STATES,
  KEPT_FOREVER_ROLES,
  REFERRING_ROLES,
  auditRow,
  checkAuditQuery,
  checkChange,
  checkDocument,
  checkLimit,
  duplicateKeyMessage,
  normaliseInstant,
  taskFromRow,
  taskResultText,
  prefixUpperBound,
  sortByCodeUnits,
  tufInstant,
  type AuditRow,
} from "../rules.ts";
import {
  StoreConflictError,
  type ArtifactRecord,
  type AuditEntry,
  type AuditQuery,
  type AuditRecord,
  type ChangeRecord,
  type DocumentRecord,
  type NewChange,
  type Publication,
  type RoleHead,
  type Store,
  type TaskRecord,
  type TaskResult,
  type TaskState,
  type TaskUpdate,
  type TokenRecord,
  type PublicationSummary,
  type RoleVersion,
} from "../store.ts";

export interface PostgresStoreOptions {
  /** connections for queries and transactions (default 10) */
  max?: number;
  /** connections for withLock, one per lock name held at once (default 4) */
  lockConnections?: number;
  /** seconds to wait for a new connection before failing (default 10) */
  connectionTimeoutSeconds?: number;
  /** how long ping() waits for `SELECT 1` (default 2000) */
  pingTimeoutMs?: number;
}

/** Rows per INSERT for documents: ~3 MB of bytea each, measured fastest. */
const DOCUMENT_CHUNK = 250;
/** roles read per query by listArtifactsInRoles */
const ROLES_CHUNK = 1024;

type Sql = SQL;
type DocumentRow = Omit<DocumentRecord, "version" | "bytes"> & { version: string; bytes: Uint8Array };
type ChangeRow = Omit<ChangeRecord, "id"> & { id: string };
type TokenRow = Omit<TokenRecord, "scopes"> & { scopes: string };
type AuditDbRow = Omit<AuditRecord, "summary" | "id"> & { summary: string; id: string };
const TOKEN_COLUMNS =
  'id, hash, name, scopes, created_at AS "createdAt", expires_at AS "expiresAt", created_by AS "createdBy"';
const AUDIT_COLUMNS =
  'id, at, principal, principal_name AS "principalName", source, route, task_id AS "taskId", action, summary';

const DOCUMENT_COLUMNS = 'role, version, bytes, expires, sha256, published_at AS "publishedAt"';
const TASK_COLUMNS = 'id, name, state, result, created_at AS "createdAt", updated_at AS "updatedAt"';
const FINISHED = FINISHED_STATES as TaskState[];

export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  readonly contents: ContentIndex = new PostgresContentIndex(() => this.db);
  private readonly url: string;
  private readonly opts: Required<PostgresStoreOptions>;
  private sql: Sql | undefined;
  /** withLock's advisory locks, on a connection pool of their own (locks.ts) */
  private locks: AdvisoryLocks | undefined;

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    this.url = url;
    this.opts = { max: 10, lockConnections: 4, connectionTimeoutSeconds: 10, pingTimeoutMs: 2000, ...opts };
  }

  /** The URL without its password, for messages. */
  get where(): string {
    try {
      const u = new URL(this.url);
      if (u.password) u.password = "***";
      return u.toString();
    } catch {
      return "(unparsable PostgreSQL URL)";
    }
  }

  async open(): Promise<void> {
    const sql =
      this.sql ?? new SQL(this.url, { max: this.opts.max, connectionTimeout: this.opts.connectionTimeoutSeconds });
    try {
      const [enc] = await sql`SHOW server_encoding`;
      // COLLATE "C" is byte order; it equals code point order only in UTF-8.
      if (enc?.server_encoding !== "UTF8") {
        throw new Error(
          `database encoding is ${enc?.server_encoding}, tufbox needs UTF8 (CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0)`,
        );
      }
      await migrate(sql);
    } catch (err) {
      if (!this.sql) await sql.close({ timeout: 0 });
      throw new Error(`cannot open PostgreSQL store at ${this.where}: ${(err as Error).message}`, { cause: err });
    }
    this.sql = sql;
    this.locks ??= new AdvisoryLocks(this.url, {
      connections: this.opts.lockConnections,
      connectionTimeoutSeconds: this.opts.connectionTimeoutSeconds,
    });
  }

  async close(): Promise<void> {
    const sql = this.sql;
    const locks = this.locks;
    if (!sql) return;
    this.sql = undefined;
    this.locks = undefined;
    await Promise.all([sql.close({ timeout: 5 }), locks?.close()]);
  }

  async ping(): Promise<boolean> {
    const sql = this.sql;
    if (!sql) return false;
    const query = sql`SELECT 1 AS ok`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        query.cancel();
        resolve(false);
      }, this.opts.pingTimeoutMs);
    });
    try {
      // The race, not only cancel(): an unreachable host must not hold
      // /readyz for the whole connection timeout.
      return await Promise.race([query.then((rows) => rows[0]?.ok === 1), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- settings ----

  async getSetting<T = unknown>(key: string): Promise<T | undefined> {
    const [row] = await this.db`SELECT value FROM settings WHERE key = ${key}`;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async setSettings(entries: Record<string, unknown>): Promise<void> {
    await this.write((tx) => putSettings(tx, entries));
  }

  // ---- documents ----

  async getDocument(role: string, version: number): Promise<DocumentRecord | undefined> {
    const [row] = await this.db.unsafe(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE role = $1 AND version = $2`, [
      role,
      version,
    ]);
    return row ? toDocument(row) : undefined;
  }

  async getLatestDocument(role: string): Promise<DocumentRecord | undefined> {
    const [row] = await this.db.unsafe(
      `SELECT ${DOCUMENT_COLUMNS} FROM documents d
       WHERE d.role = $1 AND d.version = (SELECT version FROM heads WHERE role = $1)`,
      [role],
    );
    return row ? toDocument(row) : undefined;
  }

  async getHeads(): Promise<RoleHead[]> {
    const rows = await this.db`SELECT role, version, expires FROM heads ORDER BY role`;
    return rows.map((r: { role: string; version: string; expires: string }) => ({ ...r, version: Number(r.version) }));
  }

  async getHeadLengths(): Promise<{ role: string; length: number }[]> {
    const rows = await this.db`
      SELECT h.role, d.length FROM heads h JOIN documents d ON d.role = h.role AND d.version = h.version
      ORDER BY h.role`;
    return rows.map((r: { role: string; length: number }) => ({ role: r.role, length: Number(r.length) }));
  }

  async listDocuments(): Promise<{ role: string; version: number; length: number; publishedAt: string }[]> {
    const rows = await this.db`
      SELECT role, version, length, published_at AS "publishedAt" FROM documents ORDER BY role, version`;
    return rows.map((r: { role: string; version: string; length: number; publishedAt: string }) => ({
      ...r,
      version: Number(r.version),
    }));
  }

  // ---- artifacts ----

  async listArtifactsInRole(role: string): Promise<ArtifactRecord[]> {
    const rows = await this.db`SELECT path, role, fragment FROM artifacts WHERE role = ${role} ORDER BY path`;
    return sortByCodeUnits([...rows]);
  }

  async listArtifactsInRoles(roles: readonly string[]): Promise<Map<string, ArtifactRecord[]>> {
    const out = new Map<string, ArtifactRecord[]>(roles.map((r) => [r, []]));
    const list = [...new Set(roles)];
    for (let i = 0; i < list.length; i += ROLES_CHUNK) {
      const rows: ArtifactRecord[] = await this.db`
        SELECT path, role, fragment FROM artifacts WHERE role = ANY(${list.slice(i, i + ROLES_CHUNK)}::text[])
        ORDER BY role, path`;
      for (const r of rows) out.get(r.role)!.push({ path: r.path, role: r.role, fragment: r.fragment });
    }
    for (const [role, rows] of out) out.set(role, sortByCodeUnits(rows));
    return out;
  }

  async getArtifact(path: string): Promise<ArtifactRecord | undefined> {
    const [row] = await this.db`SELECT path, role, fragment FROM artifacts WHERE path = ${path}`;
    return row ?? undefined;
  }

  async countArtifacts(): Promise<number> {
    const [row] = await this.db`SELECT count(*) AS n FROM artifacts`;
    return Number(row.n);
  }

  /**
   * Code point order (COLLATE "C"), not re-sorted, for the reason given in
   * SqliteStore.listArtifacts. Both lower bounds are index conditions: the
   * btree starts at the tighter one. A range rather than LIKE: exact, no
   * escaping of % and _, and it uses the index whatever the collation.
   */
  async listArtifacts(opts: { after?: string; limit: number; prefix?: string }): Promise<ArtifactRecord[]> {
    const limit = checkLimit(opts.limit);
    const sql = this.db;
    const after = opts.after !== undefined ? sql`AND path > ${opts.after}` : sql``;
    let prefix = sql``;
    if (opts.prefix) {
      const to = prefixUpperBound(opts.prefix);
      prefix = to === undefined ? sql`AND path >= ${opts.prefix}` : sql`AND path >= ${opts.prefix} AND path < ${to}`;
    }
    return [
      ...(await sql`SELECT path, role, fragment FROM artifacts WHERE true ${after} ${prefix} ORDER BY path LIMIT ${limit}`),
    ];
  }

  // ---- queue and tasks ----

  /**
   * One statement (a data-modifying CTE), so one round trip and atomic
   * without BEGIN/COMMIT: the task row and every change, or nothing.
   * WITH ORDINALITY … ORDER BY hands out ids in the caller's order.
   */
  async accept(
    task: { id: string; name: string; state: TaskState; result?: TaskResult | null },
    changes: NewChange[],
    held: boolean,
    audit?: AuditEntry,
  ): Promise<void> {
    for (const c of changes) checkChange(c);
    const now = new Date().toISOString();
    const a = audit ? [auditRow(audit, now)] : [];
    await this.statement(
      (sql) => sql`
        WITH task AS (
          INSERT INTO tasks (id, name, state, result, created_at, updated_at)
          VALUES (${task.id}, ${task.name}, ${task.state}, ${taskResultText(task.result)}, ${now}, ${now})
        ), audit_entry AS (
          ${insertAudit(sql, a)}
        )
        INSERT INTO changes (task_id, kind, path, role, fragment, held, created_at)
        SELECT ${task.id}, c.kind, c.path, c.role, c.fragment, ${held}, ${now}
        FROM unnest(${changes.map((c) => c.kind)}::text[], ${changes.map((c) => c.path)}::text[],
                    ${changes.map((c) => c.role)}::text[], ${changes.map((c) => c.fragment)}::text[])
             WITH ORDINALITY AS c(kind, path, role, fragment, n)
        ORDER BY c.n`,
    );
  }

  /**
   * One statement, so one snapshot: a task's changes (accepted in one
   * statement) are all visible or none are. Ids follow nextval() order, not
   * commit order, so a change can become visible after a higher id was
   * already read; that is safe because changes are only ever consumed by
   * explicit id (commitPublication), never "everything up to id N".
   */
  async pendingChanges(limit: number): Promise<ChangeRecord[]> {
    const rows = await this.db`
      SELECT id, task_id AS "taskId", kind, path, role, fragment, held FROM changes
      WHERE NOT held ORDER BY id LIMIT ${checkLimit(limit)}`;
    return rows.map((r: ChangeRow) => ({ ...r, id: Number(r.id) }));
  }

  async countPendingChanges(): Promise<number> {
    const [row] = await this.db`SELECT count(*) AS n FROM changes WHERE NOT held`;
    return Number(row.n);
  }

  async releaseHeldChanges(): Promise<number> {
    return this.statement(async (sql) => (await sql`UPDATE changes SET held = false WHERE held`).count);
  }

  async createTask(
    task: { id: string; name: string; state: TaskState; result?: TaskResult | null },
    audit?: AuditEntry,
  ): Promise<void> {
    const now = new Date().toISOString();
    const a = audit ? [auditRow(audit, now)] : [];
    // One statement (a data-modifying CTE): the task and its audit entry, or neither.
    await this.statement(
      (sql) => sql`
        WITH audit_entry AS (
          ${insertAudit(sql, a)}
        )
        INSERT INTO tasks (id, name, state, result, created_at, updated_at)
        VALUES (${task.id}, ${task.name}, ${task.state}, ${taskResultText(task.result)}, ${now}, ${now})`,
    );
  }

  async updateTasks(updates: TaskUpdate[]): Promise<void> {
    await this.statement((sql) => applyTaskUpdates(sql, updates, new Date().toISOString()));
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const [row] = await this.db.unsafe(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`, [id]);
    return row ? taskFromRow(row) : undefined;
  }

  async listUnfinishedTasks(): Promise<TaskRecord[]> {
    const rows = await this.db.unsafe(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE state <> ALL($1::text[]) ORDER BY created_at, id`,
      [FINISHED],
    );
    return rows.map(taskFromRow);
  }

  async pruneTasks(before: string): Promise<number> {
    // Same shape as the stored toISOString() values, or "…:00Z" vs "…:00.500Z" sorts wrong.
    const cutoff = normaliseInstant(before, "pruneTasks(before)");
    return this.statement(
      async (sql) =>
        (await sql`DELETE FROM tasks WHERE state = ANY(${FINISHED}::text[]) AND updated_at < ${cutoff}`).count,
    );
  }

  async listTasks(opts: { limit: number; before?: { createdAt: string; id: string } }): Promise<TaskRecord[]> {
    const limit = checkLimit(opts.limit);
    const rows = opts.before
      ? await this.db.unsafe(
          `SELECT ${TASK_COLUMNS} FROM tasks WHERE (created_at, id) < ($1, $2)
           ORDER BY created_at DESC, id DESC LIMIT $3`,
          [opts.before.createdAt, opts.before.id, limit],
        )
      : await this.db.unsafe(`SELECT ${TASK_COLUMNS} FROM tasks ORDER BY created_at DESC, id DESC LIMIT $1`, [limit]);
    return rows.map(taskFromRow);
  }

  async listRoleVersions(role: string, limit: number): Promise<RoleVersion[]> {
    const rows = await this.db`
      SELECT version, expires, length, published_at AS "publishedAt" FROM documents
      WHERE role = ${role} ORDER BY version DESC LIMIT ${checkLimit(limit)}`;
    return rows.map((r: RoleVersion & { version: string }) => ({ ...r, version: Number(r.version) }));
  }

  async listPublications(limit: number): Promise<PublicationSummary[]> {
    const sql = this.db;
    const rows = await sql`
      SELECT t.version, t.published_at AS "publishedAt",
        (SELECT count(*) FROM documents d WHERE d.published_at = t.published_at) AS n,
        (SELECT coalesce(json_agg(json_build_object('role', r.role, 'version', r.version) ORDER BY r.role), '[]')
           FROM (SELECT role, version FROM documents d
                 WHERE d.published_at = t.published_at AND d.role NOT IN ('snapshot', 'timestamp')
                 ORDER BY role LIMIT 20) r) AS roles
      FROM documents t WHERE t.role = 'timestamp' ORDER BY t.version DESC LIMIT ${checkLimit(limit)}`;
    return rows.map((r: { version: string; publishedAt: string; n: string; roles: unknown }) => ({
      timestampVersion: Number(r.version),
      publishedAt: r.publishedAt,
      documents: Number(r.n),
      roles: (typeof r.roles === "string" ? JSON.parse(r.roles) : r.roles) as { role: string; version: number }[],
    }));
  }

  // ---- publication ----

  /**
   * One transaction. The expected heads are re-checked under row locks
   * (SELECT … FOR UPDATE on heads, in role order so two publishers cannot
   * deadlock); a role's first document gets a placeholder heads row (version
   * 0) inserted first so that there is a row to lock: a second publisher
   * creating the same role waits on it and then sees the committed head.
   * The unique (role, version) key catches what a lying expectedHeads would
   * let through, and every error rolls everything back.
   */
  async commitPublication(pub: Publication): Promise<void> {
    for (const d of pub.documents) checkDocument(d, pub.expectedHeads);
    const roles = Object.keys(pub.expectedHeads).sort(byCodePoint);
    const firsts = roles.filter((r) => pub.expectedHeads[r] === 0);
    const consumed = [...new Set(pub.consumedChanges ?? [])];
    const locks = this.locks?.heldHere() ?? [];
    await this.write(async (tx) => {
      const now = new Date().toISOString();
      await checkLocksStillHeld(tx, locks);

      if (firsts.length > 0) {
        await tx`
          INSERT INTO heads (role, version, expires)
          SELECT r, 0, '' FROM unnest(${firsts}::text[]) WITH ORDINALITY AS u(r, n) ORDER BY n
          ON CONFLICT (role) DO NOTHING`;
      }
      if (roles.length > 0) {
        const rows = await tx`
          SELECT role, version FROM heads WHERE role = ANY(${roles}::text[]) ORDER BY role FOR UPDATE`;
        const heads = new Map<string, number>(
          rows.map((r: { role: string; version: string }) => [r.role, Number(r.version)]),
        );
        for (const role of roles) {
          const head = heads.get(role) ?? 0;
          if (head !== pub.expectedHeads[role]) {
            throw new StoreConflictError(
              `role "${role}" is at version ${head}, the publisher expected ${pub.expectedHeads[role]}: someone else published in between; rebuild and retry`,
            );
          }
        }
      }

      for (let i = 0; i < pub.documents.length; i += DOCUMENT_CHUNK) {
        const rows = pub.documents.slice(i, i + DOCUMENT_CHUNK).map((d) => ({
          role: d.role,
          version: d.version,
          expires: d.expires,
          sha256: d.sha256,
          length: d.bytes.byteLength,
          published_at: d.publishedAt ?? now,
          bytes: d.bytes,
        }));
        await tx`INSERT INTO documents ${tx(rows)}`;
      }
      if (pub.documents.length > 0) {
        // Retention (see the SQLite store): what this publication supersedes
        // is referenced until the horizon as it stands before it. The totals
        // row is locked here, so concurrent publications serialise on it.
        const [totals] = await tx`SELECT horizon FROM document_totals WHERE id = 1 FOR UPDATE`;
        const superseded = pub.documents.filter((d) => d.version > 1 && !KEPT_FOREVER_ROLES.includes(d.role));
        if (superseded.length > 0) {
          await tx`
            INSERT INTO retired (role, version, referenced_until)
            SELECT r, v, ${totals.horizon}
            FROM unnest(${superseded.map((d) => d.role)}::text[], ${superseded.map((d) => d.version - 1)}::bigint[])
              AS u(r, v)
            ON CONFLICT (role, version) DO NOTHING`;
        }
        // Latest expiry (ISO text, compared as strings) of this publication's snapshot/timestamp.
        let newest = "";
        for (const d of pub.documents) if (REFERRING_ROLES.includes(d.role) && d.expires > newest) newest = d.expires;
        const bytes = pub.documents.reduce((n, d) => n + d.bytes.byteLength, 0);
        await tx`
          UPDATE document_totals SET horizon = greatest(horizon, ${newest}::text COLLATE "C"),
            documents = documents + ${pub.documents.length}, bytes = bytes + ${bytes}
          WHERE id = 1`;
        // Head = highest version, whatever order documents arrive in.
        const docs = pub.documents;
        await tx`
          UPDATE heads h SET version = d.version, expires = d.expires
          FROM (
            SELECT DISTINCT ON (role) role, version, expires
            FROM unnest(${docs.map((d) => d.role)}::text[], ${docs.map((d) => d.version)}::bigint[],
                        ${docs.map((d) => d.expires)}::text[]) AS u(role, version, expires)
            ORDER BY role, version DESC
          ) d
          WHERE h.role = d.role AND d.version > h.version`;
      }
      if (firsts.length > 0) {
        // Placeholders of roles that got no document (an expected 0 that stays 0).
        await tx`DELETE FROM heads WHERE version = 0 AND role = ANY(${firsts}::text[])`;
      }

      // Removes first: a path in both lists ends up published, the only
      // reading that loses nothing.
      const remove = pub.artifacts?.remove ?? [];
      if (remove.length > 0) await tx`DELETE FROM artifacts WHERE path = ANY(${remove}::text[])`;
      // Last upsert of a path wins, as when SQLite applies them one by one
      // (PostgreSQL refuses to upsert one row twice in a statement).
      const upsert = [...new Map((pub.artifacts?.upsert ?? []).map((a) => [a.path, a])).values()];
      if (upsert.length > 0) {
        await tx`
          INSERT INTO artifacts (path, role, fragment)
          SELECT * FROM unnest(${upsert.map((a) => a.path)}::text[], ${upsert.map((a) => a.role)}::text[],
                               ${upsert.map((a) => a.fragment)}::text[])
          ON CONFLICT (path) DO UPDATE SET role = excluded.role, fragment = excluded.fragment`;
      }

      if (consumed.length > 0) {
        // A concurrent consumer holds the row lock until it commits; after
        // that the row is gone and our count comes up short.
        const deleted = await tx`DELETE FROM changes WHERE id = ANY(${consumed}::bigint[])`;
        if (deleted.count !== consumed.length) {
          throw new StoreConflictError(
            `${consumed.length - deleted.count} of ${consumed.length} queue changes are no longer pending: another publisher consumed them; rebuild and retry`,
          );
        }
      }
      await applyTaskUpdates(tx, pub.tasks ?? [], now);
      await putSettings(tx, pub.settings ?? {});
      const audit = (pub.audit ?? []).map((e) => auditRow(e, now));
      if (audit.length > 0) await insertAudit(tx, audit);
    });
  }

  // ---- retention ----

  async pruneDocuments(cutoff: string, limit: number): Promise<{ versions: number; bytes: number }> {
    const until = tufInstant(cutoff, "pruneDocuments(cutoff)");
    let result = { versions: 0, bytes: 0 };
    await this.write(async (tx) => {
      const picked = await tx`
        DELETE FROM retired WHERE (role, version) IN (
          SELECT role, version FROM retired WHERE referenced_until < ${until}
          ORDER BY referenced_until LIMIT ${checkLimit(limit)} FOR UPDATE SKIP LOCKED)
        RETURNING role, version`;
      if (picked.length === 0) return;
      // Never the newest version of a role, never root.
      const [row] = await tx`
        WITH gone AS (
          DELETE FROM documents d
          USING unnest(${picked.map((r: { role: string }) => r.role)}::text[],
                       ${picked.map((r: { version: string }) => Number(r.version))}::bigint[]) AS u(role, version),
                heads h
          WHERE d.role = u.role AND d.version = u.version AND h.role = d.role AND d.version < h.version
            AND d.role <> 'root'
          RETURNING d.length)
        SELECT count(*) AS n, coalesce(sum(length), 0) AS bytes FROM gone`;
      result = { versions: Number(row.n), bytes: Number(row.bytes) };
      if (result.versions > 0) {
        await tx`UPDATE document_totals SET documents = documents - ${result.versions}, bytes = bytes - ${result.bytes}
                 WHERE id = 1`;
      }
    });
    return result;
  }

  async documentStats(): Promise<{ documents: number; bytes: number }> {
    const [row] = await this.db`SELECT documents, bytes FROM document_totals WHERE id = 1`;
    return { documents: Number(row.documents), bytes: Number(row.bytes) };
  }

  // ---- tokens ----

  async putToken(token: TokenRecord, audit?: AuditEntry): Promise<void> {
    const createdAt = normaliseInstant(token.createdAt, "token.createdAt");
    const expiresAt = token.expiresAt === null ? null : normaliseInstant(token.expiresAt, "token.expiresAt");
    const a = audit ? [auditRow(audit, new Date().toISOString())] : [];
    await this.statement(
      (sql) => sql`
        WITH audit_entry AS (
          ${insertAudit(sql, a)}
        )
        INSERT INTO tokens (id, hash, name, scopes, created_at, expires_at, created_by)
        VALUES (${token.id}, ${token.hash}, ${token.name}, ${JSON.stringify(token.scopes)}, ${createdAt},
                ${expiresAt}, ${token.createdBy})
        ON CONFLICT (hash) DO UPDATE SET id = excluded.id, name = excluded.name, scopes = excluded.scopes,
          created_at = excluded.created_at, expires_at = excluded.expires_at, created_by = excluded.created_by`,
    );
  }

  async findToken(hash: string): Promise<TokenRecord | undefined> {
    const [row] = (await this.db.unsafe(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash = $1`, [hash])) as TokenRow[];
    return row ? toToken(row) : undefined;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = (await this.db.unsafe(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id`)) as TokenRow[];
    return rows.map(toToken);
  }

  async revokeToken(id: string, audit?: AuditEntry): Promise<boolean> {
    const a = audit ? auditRow(audit, new Date().toISOString()) : undefined;
    // One statement: the audit entry is written only if a row was deleted.
    const rows = await this.statement(
      (sql) => sql`
        WITH gone AS (DELETE FROM tokens WHERE id = ${id} RETURNING id), audit_entry AS (
          INSERT INTO audit (at, principal, principal_name, source, route, task_id, action, summary)
          SELECT ${a?.at ?? null}, ${a?.principal ?? null}, ${a?.principalName ?? null}, ${a?.source ?? null},
                 ${a?.route ?? null}, ${a?.taskId ?? null}, ${a?.action ?? null}, ${a?.summary ?? null}
          FROM gone WHERE ${a !== undefined}
        )
        SELECT count(*) AS n FROM gone`,
    );
    return Number(rows[0].n) === 1;
  }

  async countTokens(): Promise<number> {
    const [row] = await this.db`SELECT count(*) AS n FROM tokens`;
    return Number(row.n);
  }

  // ---- audit ----

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const q = checkAuditQuery(query);
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.since !== undefined) {
      params.push(q.since);
      where.push(`at >= $${params.length}`);
    }
    if (q.afterId !== undefined) {
      params.push(q.afterId);
      where.push(`id > $${params.length}`);
    }
    if (q.principal !== undefined) {
      params.push(q.principal);
      where.push(`(principal = $${params.length} OR principal_name = $${params.length})`);
    }
    params.push(q.limit);
    const rows = (await this.db.unsafe(
      `SELECT ${AUDIT_COLUMNS} FROM audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY id ${q.newest ? "DESC" : "ASC"} LIMIT $${params.length}`,
      params,
    )) as AuditDbRow[];
    const out = rows.map((r) => ({ ...r, id: Number(r.id), summary: JSON.parse(r.summary) }));
    if (q.newest) out.reverse();
    return out;
  }

  async pruneAudit(before: string): Promise<number> {
    const cutoff = normaliseInstant(before, "pruneAudit(before)");
    return this.statement(async (sql) => (await sql`DELETE FROM audit WHERE at < ${cutoff}`).count);
  }

  async deleteTokens(name: string): Promise<number> {
    return this.statement(async (sql) => (await sql`DELETE FROM tokens WHERE name = ${name}`).count);
  }

  // ---- lock ----

  /**
   * A session-level advisory lock held for the whole of `fn`: one holder per
   * name across every replica on this database (and schema); see locks.ts.
   */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.db; // the usual "not open" error
    return this.locks!.withLock(name, fn);
  }

  // ---- internals ----

  private get db(): Sql {
    if (!this.sql) throw new Error(`PostgreSQL store ${this.where} is not open (call open() first)`);
    return this.sql;
  }

  /**
   * Run `fn` in a transaction. Key violations, deadlocks and serialization
   * failures all mean "someone else wrote first" and become
   * StoreConflictError; the transaction is rolled back by then. The result
   * travels outside begin(): a callback returning an array asks Bun to
   * pipeline it as queries.
   */
  private async write(fn: (tx: Sql) => Promise<unknown>): Promise<void> {
    const sql = this.db;
    try {
      await sql.begin(async (tx) => {
        await fn(tx as unknown as Sql);
      });
    } catch (err) {
      throw asConflict(err);
    }
  }

  /** One statement: atomic by itself, so no BEGIN/COMMIT round trips. */
  private async statement<T>(fn: (sql: Sql) => PromiseLike<T>): Promise<T> {
    try {
      return await fn(this.db);
    } catch (err) {
      throw asConflict(err);
    }
  }
}

// ---- helpers (module-private) ----

function asConflict(err: unknown): unknown {
  if (!(err instanceof SQL.PostgresError)) return err;
  const e = err as InstanceType<typeof SQL.PostgresError> & { constraint?: string; table?: string };
  switch (e.errno) {
    case "23505":
      return new StoreConflictError(`${duplicateKeyMessage(e.table)} (${e.message})`);
    case "40P01": // deadlock_detected
    case "40001": // serialization_failure
      return new StoreConflictError(`a concurrent write got in the way: ${e.message}; retry`);
    default:
      return err;
  }
}

async function putSettings(sql: Sql, entries: Record<string, unknown>) {
  const put = Object.entries(entries).filter(([, v]) => v !== undefined);
  const drop = Object.entries(entries)
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  if (put.length > 0) {
    await sql`
      INSERT INTO settings (key, value)
      SELECT * FROM unnest(${put.map(([k]) => k)}::text[], ${put.map(([, v]) => JSON.stringify(v))}::text[])
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
  }
  if (drop.length > 0) await sql`DELETE FROM settings WHERE key = ANY(${drop}::text[])`;
}

/** Updates of pruned tasks match no row and are dropped, as in SqliteStore. */
async function applyTaskUpdates(sql: Sql, updates: TaskUpdate[], now: string) {
  // The last update of an id wins, as when applied one by one.
  const last = [...new Map(updates.map((u) => [u.id, u])).values()];
  if (last.length === 0) return;
  await sql`
    UPDATE tasks t SET state = u.state, result = u.result, updated_at = ${now}
    FROM unnest(${last.map((u) => u.id)}::text[], ${last.map((u) => u.state)}::text[],
                ${last.map((u) => taskResultText(u.result))}::text[]) AS u(id, state, result)
    WHERE t.id = u.id`;
}

/** Code point order, the order COLLATE "C" locks heads rows in. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function toDocument(row: DocumentRow): DocumentRecord {
  // A plain Uint8Array view (no copy), like SQLite returns, not a Buffer.
  const b = row.bytes;
  return { ...row, version: Number(row.version), bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
}

/**
 * INSERT of audit rows, usable as a CTE inside another statement (so the entry
 * commits with the change in one round trip). No rows: an INSERT of nothing.
 */
function insertAudit(sql: Sql, rows: AuditRow[]) {
  return sql`
    INSERT INTO audit (at, principal, principal_name, source, route, task_id, action, summary)
    SELECT a.at, a.principal, a.principal_name, a.source, a.route, a.task_id, a.action, a.summary
    FROM unnest(${rows.map((r) => r.at)}::text[], ${rows.map((r) => r.principal)}::text[],
                         ${rows.map((r) => r.principalName)}::text[], ${rows.map((r) => r.source)}::text[],
                         ${rows.map((r) => r.route)}::text[], ${rows.map((r) => r.taskId)}::text[],
                         ${rows.map((r) => r.action)}::text[], ${rows.map((r) => r.summary)}::text[])
      WITH ORDINALITY AS a(at, principal, principal_name, source, route, task_id, action, summary, n)
    ORDER BY n`;
}

function toToken(row: TokenRow): TokenRecord {
  return { ...row, scopes: JSON.parse(row.scopes) as string[] };
}
