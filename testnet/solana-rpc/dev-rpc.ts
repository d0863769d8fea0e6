import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  address,
  getBase58Decoder,
  getBase58Encoder,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  lamports,
  type Address,
  type Transaction,
} from '@solana/kit'
import { FailedTransactionMetadata, LiteSVM, type TransactionMetadata } from 'litesvm'

/**
 * A Solana dev chain behind a minimal JSON-RPC 2.0 HTTP endpoint: a real LiteSVM instance executes
 * every transaction; this server only adds what a validator's RPC adds on top (history, slots).
 *
 * Simplifications, all deliberate:
 * - Every landed transaction gets its own slot (the slot advances by one after each), and every
 *   `commitment` is answered as `finalized`: there are no forks, so nothing ever rolls back.
 * - History is kept in memory for transactions sent through `sendTransaction` (LiteSVM keeps no
 *   index). A transaction that fails during execution (e.g. an InstructionError) lands with its
 *   `err` and fee, like on a real cluster; one that fails before execution (bad signature, unknown
 *   blockhash, unfunded fee payer, duplicate) is refused and not recorded.
 * - `requestAirdrop` credits lamports through LiteSVM's own faucet; airdrops are not indexed.
 * - Only legacy and v0 messages without address lookup tables are accepted.
 */

export interface SolanaDevRpc {
  readonly url: string
  readonly svm: LiteSVM
  stop(): Promise<void>
}

export interface SolanaDevRpcOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number
  readonly host?: string
}

interface TxRecord {
  readonly signature: string
  readonly slot: number
  readonly blockTime: number
  readonly err: unknown
  readonly fee: number
  readonly preBalances: number[]
  readonly postBalances: number[]
  readonly logMessages: string[]
  readonly computeUnitsConsumed: number
  readonly version: 'legacy' | 0
  readonly signatures: string[]
  readonly accountKeys: string[]
  readonly header: { numRequiredSignatures: number; numReadonlySignedAccounts: number; numReadonlyUnsignedAccounts: number }
  readonly recentBlockhash: string
  readonly instructions: { programIdIndex: number; accounts: number[]; data: string; stackHeight: null }[]
  readonly memo: string | null
}

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message)
  }
}

const MEMO_PROGRAMS = new Set(['MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr', 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo'])
/** Solana's base fee: 5000 lamports per signature (no priority fees in this dev chain). */
const LAMPORTS_PER_SIGNATURE = 5000
const MAX_SIGNATURES_LIMIT = 1000
const MAX_BODY_BYTES = 1 << 20

// Names of LiteSVM's fieldless error enums, in declaration order, for Solana's JSON error shape.
const TX_ERRORS = 'AccountInUse AccountLoadedTwice AccountNotFound ProgramAccountNotFound InsufficientFundsForFee InvalidAccountForFee AlreadyProcessed BlockhashNotFound CallChainTooDeep MissingSignatureForFee InvalidAccountIndex SignatureFailure InvalidProgramForExecution SanitizeFailure ClusterMaintenance AccountBorrowOutstanding WouldExceedMaxBlockCostLimit UnsupportedVersion InvalidWritableAccount WouldExceedMaxAccountCostLimit WouldExceedAccountDataBlockLimit TooManyAccountLocks AddressLookupTableNotFound InvalidAddressLookupTableOwner InvalidAddressLookupTableData InvalidAddressLookupTableIndex InvalidRentPayingAccount WouldExceedMaxVoteCostLimit WouldExceedAccountDataTotalLimit MaxLoadedAccountsDataSizeExceeded ResanitizationNeeded InvalidLoadedAccountsDataSizeLimit UnbalancedTransaction ProgramCacheHitMaxLimit CommitCancelled'.split(' ')
const IX_ERRORS = 'GenericError InvalidArgument InvalidInstructionData InvalidAccountData AccountDataTooSmall InsufficientFunds IncorrectProgramId MissingRequiredSignature AccountAlreadyInitialized UninitializedAccount UnbalancedInstruction ModifiedProgramId ExternalAccountLamportSpend ExternalAccountDataModified ReadonlyLamportChange ReadonlyDataModified DuplicateAccountIndex ExecutableModified RentEpochModified NotEnoughAccountKeys AccountDataSizeChanged AccountNotExecutable AccountBorrowFailed AccountBorrowOutstanding DuplicateAccountOutOfSync InvalidError ExecutableDataModified ExecutableLamportChange ExecutableAccountNotRentExempt UnsupportedProgramId CallDepth MissingAccount ReentrancyNotAllowed MaxSeedLengthExceeded InvalidSeeds InvalidRealloc ComputationalBudgetExceeded PrivilegeEscalation ProgramEnvironmentSetupFailure ProgramFailedToComplete ProgramFailedToCompile Immutable IncorrectAuthority AccountNotRentExempt InvalidAccountOwner ArithmeticOverflow UnsupportedSysvar IllegalOwner MaxAccountsDataAllocationsExceeded MaxAccountsExceeded MaxInstructionTraceLengthExceeded BuiltinProgramsMustConsumeComputeUnits BorshIoError'.split(' ')

type LiteSvmTxError = ReturnType<FailedTransactionMetadata['err']>

/** Solana's JSON encoding of a TransactionError, e.g. `{"InstructionError":[0,{"Custom":1}]}`. */
function txErrorJson(err: LiteSvmTxError): unknown {
  if (typeof err === 'number') return TX_ERRORS[err] ?? `Unknown(${err})`
  const name = err.constructor.name
  if (name === 'TransactionErrorInstructionError' && 'err' in err) {
    const inner = err.err()
    const innerJson =
      typeof inner === 'number'
        ? (IX_ERRORS[inner] ?? `Unknown(${inner})`)
        : 'code' in inner
          ? { Custom: inner.code }
          : { BorshIoError: String(inner) }
    return { InstructionError: [err.index, innerJson] }
  }
  if ('index' in err) return { DuplicateInstruction: err.index }
  if (name === 'TransactionErrorInsufficientFundsForRent') return { InsufficientFundsForRent: { account_index: err.accountIndex } }
  return { ProgramExecutionTemporarilyRestricted: { account_index: err.accountIndex } }
}

function memoField(accountKeys: readonly string[], instructions: TxRecord['instructions'], raw: readonly Uint8Array[]): string | null {
  const parts: string[] = []
  instructions.forEach((ix, i) => {
    const program = accountKeys[ix.programIdIndex]
    const data = raw[i]
    if (program !== undefined && MEMO_PROGRAMS.has(program) && data) parts.push(`[${data.length}] ${new TextDecoder().decode(data)}`)
  })
  return parts.length > 0 ? parts.join('; ') : null
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function configParam(params: unknown[], index: number): Record<string, unknown> {
  const c = params[index]
  if (c === undefined || c === null) return {}
  if (!isRecord(c)) throw new RpcError(-32602, `Invalid params: expected a config object at position ${index}`)
  return c
}

function stringParam(params: unknown[], index: number, what: string): string {
  const v = params[index]
  if (typeof v !== 'string') throw new RpcError(-32602, `Invalid params: ${what} must be a string`)
  return v
}

function addressParam(params: unknown[], index: number): Address {
  const s = stringParam(params, index, 'address')
  try {
    return address(s)
  } catch {
    throw new RpcError(-32602, 'Invalid param: Invalid')
  }
}

export class SolanaDevChain {
  readonly svm = new LiteSVM()
  private readonly history: TxRecord[] = []
  private readonly bySignature = new Map<string, TxRecord>()

  get slot(): number {
    return Number(this.svm.getClock().slot)
  }

  private nextSlot(): void {
    this.svm.warpToSlot(this.svm.getClock().slot + 1n)
  }

  private balances(keys: readonly string[]): number[] {
    return keys.map((k) => Number(this.svm.getBalance(address(k)) ?? 0n))
  }

  dispatch(method: string, params: unknown[]): unknown {
    switch (method) {
      case 'getHealth':
        return 'ok'
      case 'getSlot':
        return this.slot
      case 'getLatestBlockhash':
        return { context: { slot: this.slot }, value: { blockhash: this.svm.latestBlockhash(), lastValidBlockHeight: this.slot + 150 } }
      case 'getBalance':
        return { context: { slot: this.slot }, value: Number(this.svm.getBalance(addressParam(params, 0)) ?? 0n) }
      case 'requestAirdrop':
        return this.requestAirdrop(params)
      case 'sendTransaction':
        return this.sendTransaction(params)
      case 'getSignaturesForAddress':
        return this.getSignaturesForAddress(params)
      case 'getTransaction':
        return this.getTransaction(params)
      default:
        throw new RpcError(-32601, 'Method not found')
    }
  }

  private requestAirdrop(params: unknown[]): string {
    const to = addressParam(params, 0)
    const amount = params[1]
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) throw new RpcError(-32602, 'Invalid params: lamports must be a positive integer')
    const result = this.svm.airdrop(to, lamports(BigInt(amount)))
    if (result === null || result instanceof FailedTransactionMetadata) throw new RpcError(-32603, `Airdrop failed: ${String(result)}`)
    this.nextSlot()
    return getBase58Decoder().decode(result.signature())
  }

  private decodeWire(params: unknown[]): Transaction {
    const wire = stringParam(params, 0, 'transaction')
    const encoding = configParam(params, 1).encoding ?? 'base58'
    let bytes: Uint8Array
    try {
      if (encoding === 'base64') bytes = new Uint8Array(getBase64Encoder().encode(wire))
      else if (encoding === 'base58') bytes = new Uint8Array(getBase58Encoder().encode(wire))
      else throw new RpcError(-32602, `Invalid params: unsupported encoding ${String(encoding)}`)
      return getTransactionDecoder().decode(bytes)
    } catch (e) {
      if (e instanceof RpcError) throw e
      throw new RpcError(-32602, `invalid transaction: failed to deserialize (${(e as Error).message})`)
    }
  }

  private sendTransaction(params: unknown[]): string {
    const tx = this.decodeWire(params)
    const skipPreflight = configParam(params, 1).skipPreflight === true
    let message
    try {
      message = getCompiledTransactionMessageDecoder().decode(tx.messageBytes)
    } catch (e) {
      throw new RpcError(-32602, `invalid transaction: ${(e as Error).message}`)
    }
    if (message.version !== 'legacy' && message.version !== 0) throw new RpcError(-32602, 'invalid transaction: unsupported message version')
    if ('addressTableLookups' in message && (message.addressTableLookups?.length ?? 0) > 0) {
      throw new RpcError(-32602, 'invalid transaction: address lookup tables are not supported by this dev chain')
    }
    if (!skipPreflight) {
      const sim = this.svm.simulateTransaction(tx)
      if (sim instanceof FailedTransactionMetadata) {
        const err = txErrorJson(sim.err())
        throw new RpcError(-32002, `Transaction simulation failed: ${JSON.stringify(err)}`, {
          err,
          logs: sim.meta().logs(),
          accounts: null,
          unitsConsumed: Number(sim.meta().computeUnitsConsumed()),
          returnData: null,
        })
      }
    }
    const accountKeys = message.staticAccounts.map(String)
    const preBalances = this.balances(accountKeys)
    const result = this.svm.sendTransaction(tx)
    let meta: TransactionMetadata
    let err: unknown = null
    if (result instanceof FailedTransactionMetadata) {
      const raw = result.err()
      err = txErrorJson(raw)
      // Fieldless errors are the ones raised before execution: such a transaction never lands.
      if (typeof raw === 'number') throw new RpcError(-32002, `Transaction failed: ${JSON.stringify(err)}`, { err, logs: [], accounts: null })
      meta = result.meta()
    } else {
      meta = result
    }
    const signature = getBase58Decoder().decode(meta.signature())
    const instructions = message.instructions.map((ix) => ({
      programIdIndex: ix.programAddressIndex,
      accounts: [...(ix.accountIndices ?? [])],
      data: getBase58Decoder().decode(ix.data ?? new Uint8Array()),
      stackHeight: null,
    }))
    const record: TxRecord = {
      signature,
      slot: this.slot,
      blockTime: Math.floor(Date.now() / 1000),
      err,
      fee: LAMPORTS_PER_SIGNATURE * message.header.numSignerAccounts,
      preBalances,
      postBalances: this.balances(accountKeys),
      logMessages: meta.logs(),
      computeUnitsConsumed: Number(meta.computeUnitsConsumed()),
      version: message.version,
      signatures: Object.values(tx.signatures).map((s) => (s ? getBase58Decoder().decode(s) : '1'.repeat(64))),
      accountKeys,
      header: {
        numRequiredSignatures: message.header.numSignerAccounts,
        numReadonlySignedAccounts: message.header.numReadonlySignerAccounts,
        numReadonlyUnsignedAccounts: message.header.numReadonlyNonSignerAccounts,
      },
      recentBlockhash: message.lifetimeToken,
      instructions,
      memo: memoField(
        accountKeys,
        instructions,
        message.instructions.map((ix) => new Uint8Array(ix.data ?? [])),
      ),
    }
    this.history.push(record)
    this.bySignature.set(signature, record)
    this.nextSlot()
    return signature
  }

  private getSignaturesForAddress(params: unknown[]): unknown[] {
    const addr = String(addressParam(params, 0))
    const config = configParam(params, 1)
    const limit = config.limit ?? MAX_SIGNATURES_LIMIT
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_SIGNATURES_LIMIT) throw new RpcError(-32602, 'Invalid limit')
    for (const key of ['before', 'until'] as const) {
      if (config[key] !== undefined && typeof config[key] !== 'string') throw new RpcError(-32602, `Invalid param: ${key}`)
    }
    const out: unknown[] = []
    let started = config.before === undefined
    for (let i = this.history.length - 1; i >= 0 && out.length < limit; i--) {
      const r = this.history[i]!
      if (!started) {
        started = r.signature === config.before
        continue
      }
      if (r.signature === config.until) break
      if (!r.accountKeys.includes(addr)) continue
      out.push({ signature: r.signature, slot: r.slot, err: r.err, memo: r.memo, blockTime: r.blockTime, confirmationStatus: 'finalized' })
    }
    return out
  }

  private getTransaction(params: unknown[]): unknown {
    const signature = stringParam(params, 0, 'signature')
    const config = configParam(params, 1)
    const encoding = config.encoding ?? 'json'
    if (encoding !== 'json') throw new RpcError(-32602, `Invalid params: only encoding "json" is supported by this dev chain`)
    const r = this.bySignature.get(signature)
    if (!r) return null
    const maxVersion = config.maxSupportedTransactionVersion
    if (r.version === 0 && (typeof maxVersion !== 'number' || maxVersion < 0)) {
      throw new RpcError(-32015, 'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0')
    }
    return {
      slot: r.slot,
      blockTime: r.blockTime,
      ...(maxVersion === undefined ? {} : { version: r.version }),
      meta: {
        err: r.err,
        status: r.err === null ? { Ok: null } : { Err: r.err },
        fee: r.fee,
        preBalances: r.preBalances,
        postBalances: r.postBalances,
        innerInstructions: [],
        logMessages: r.logMessages,
        preTokenBalances: [],
        postTokenBalances: [],
        rewards: [],
        loadedAddresses: { writable: [], readonly: [] },
        computeUnitsConsumed: r.computeUnitsConsumed,
      },
      transaction: {
        signatures: r.signatures,
        message: {
          accountKeys: r.accountKeys,
          header: r.header,
          recentBlockhash: r.recentBlockhash,
          instructions: r.instructions,
          ...(r.version === 0 ? { addressTableLookups: [] } : {}),
        },
      },
    }
  }
}

function respond(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function handleOne(chain: SolanaDevChain, req: unknown): unknown {
  const id = isRecord(req) && (typeof req.id === 'string' || typeof req.id === 'number') ? req.id : null
  try {
    if (!isRecord(req) || req.jsonrpc !== '2.0' || typeof req.method !== 'string') throw new RpcError(-32600, 'Invalid request')
    const params = req.params ?? []
    if (!Array.isArray(params)) throw new RpcError(-32602, 'Invalid params: expected an array')
    return { jsonrpc: '2.0', id, result: chain.dispatch(req.method, params) }
  } catch (e) {
    const err = e instanceof RpcError ? e : new RpcError(-32603, `Internal error: ${(e as Error).message}`)
    return { jsonrpc: '2.0', id, error: { code: err.code, message: err.message, ...(err.data === undefined ? {} : { data: err.data }) } }
  }
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) return null
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Starts a LiteSVM-backed Solana JSON-RPC endpoint at `http://host:port` (POST /). */
export async function startSolanaDevRpc(opts: SolanaDevRpcOptions = {}): Promise<SolanaDevRpc> {
  const chain = new SolanaDevChain()
  const host = opts.host ?? '127.0.0.1'
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end()
      return
    }
    readBody(req).then(
      (text) => {
        if (text === null) return respond(res, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Request too large' } })
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch {
          return respond(res, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } })
        }
        if (Array.isArray(body)) {
          if (body.length === 0) return respond(res, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid request' } })
          return respond(res, body.map((r) => handleOne(chain, r)))
        }
        respond(res, handleOne(chain, body))
      },
      () => res.destroy(),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host}:${port}`,
    svm: chain.svm,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((e) => (e ? reject(e) : resolve()))
      }),
  }
}
