import {
  AccountRole,
  address,
  appendTransactionMessageInstructions,
  createSolanaRpc,
  createTransactionMessage,
  devnet,
  generateKeyPairSigner,
  getBase64EncodedWireTransaction,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Address,
  type Instruction,
  type RpcDevnet,
  type SolanaRpcApiDevnet,
  type KeyPairSigner,
} from '@solana/kit'

/** Test-only helpers: build and send System transfers and Memos through a real Solana RPC client. */

export const SYSTEM_PROGRAM = address('11111111111111111111111111111111')
export const MEMO_PROGRAM = address('MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr')

export function transferIx(from: KeyPairSigner, to: Address, amount: bigint): Instruction {
  const data = new Uint8Array(12)
  const view = new DataView(data.buffer)
  view.setUint32(0, 2, true)
  view.setBigUint64(4, amount, true)
  // The signer travels in the account meta so signTransactionMessageWithSigners finds it.
  const accounts = [
    { address: from.address, role: AccountRole.WRITABLE_SIGNER, signer: from },
    { address: to, role: AccountRole.WRITABLE },
  ]
  return { programAddress: SYSTEM_PROGRAM, accounts, data }
}

export function memoIx(memo: string | Uint8Array): Instruction {
  return { programAddress: MEMO_PROGRAM, data: typeof memo === 'string' ? new TextEncoder().encode(memo) : memo }
}

export class SolanaTestClient {
  readonly rpc: RpcDevnet<SolanaRpcApiDevnet>

  constructor(url: string) {
    this.rpc = createSolanaRpc(devnet(url))
  }

  async fundedSigner(sol = 10n): Promise<KeyPairSigner> {
    const signer = await generateKeyPairSigner()
    await this.rpc.requestAirdrop(signer.address, lamports(sol * 1_000_000_000n)).send()
    return signer
  }

  async send(payer: KeyPairSigner, instructions: readonly Instruction[], opts: { skipPreflight?: boolean } = {}): Promise<string> {
    const { value: blockhash } = await this.rpc.getLatestBlockhash({ commitment: 'finalized' }).send()
    const tx = await pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(payer, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
      (m) => appendTransactionMessageInstructions(instructions, m),
      (m) => signTransactionMessageWithSigners(m),
    )
    return this.rpc.sendTransaction(getBase64EncodedWireTransaction(tx), { encoding: 'base64', skipPreflight: opts.skipPreflight ?? false }).send()
  }
}
