/**
 * @fmp/ledger: the verifiable ledger's core. Pure: no sockets, no files; storage sits behind
 * `LogStorage` and clocks are injected.
 *
 * - `merkle`: RFC 9162 Merkle tree hashing, inclusion and consistency proofs.
 * - `checkpoint`: C2SP signed notes, tlog-checkpoint and tlog-cosignature (Ed25519) lines.
 * - `witness`: a witness that cosigns only consistent checkpoints and catches equivocation.
 * - `log`: the transparency log with batched, durable appends.
 * - `state`: signed entries and the state they replay to (token, stakes, governance, disputes).
 */
export * from './bench.js';
export * from './checkpoint.js';
export * from './log.js';
export * from './merkle.js';
export * from './state/index.js';
export * from './witness.js';
