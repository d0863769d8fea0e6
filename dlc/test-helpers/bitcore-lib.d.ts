/**
 * The few parts of bitcore-lib 11 (a dev dependency, CommonJS, no usable @types) that the DLC
 * tests use as an independent script interpreter. Only what `interpreter.ts` touches is declared.
 */
declare module 'bitcore-lib' {
  namespace bitcore {
    class Script {
      constructor(from?: Buffer)
      toBuffer(): Buffer
    }

    namespace Script {
      class Interpreter {
        /** Why the last `verify` returned false ('SCRIPT_ERR_…'), '' after a success. */
        errstr: string
        verify(scriptSig: Script, scriptPubkey: Script, tx: Transaction, nin: number, flags: number, witness: Buffer[], satoshis: number): boolean
        static readonly SCRIPT_VERIFY_P2SH: number
        static readonly SCRIPT_VERIFY_STRICTENC: number
        static readonly SCRIPT_VERIFY_DERSIG: number
        static readonly SCRIPT_VERIFY_LOW_S: number
        static readonly SCRIPT_VERIFY_NULLDUMMY: number
        static readonly SCRIPT_VERIFY_MINIMALDATA: number
        static readonly SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_NOPS: number
        static readonly SCRIPT_VERIFY_CLEANSTACK: number
        static readonly SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY: number
        static readonly SCRIPT_VERIFY_CHECKSEQUENCEVERIFY: number
        static readonly SCRIPT_VERIFY_WITNESS: number
        static readonly SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM: number
        static readonly SCRIPT_VERIFY_MINIMALIF: number
        static readonly SCRIPT_VERIFY_NULLFAIL: number
        static readonly SCRIPT_VERIFY_WITNESS_PUBKEYTYPE: number
        static readonly SCRIPT_VERIFY_TAPROOT: number
        static readonly SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION: number
        static readonly SCRIPT_VERIFY_DISCOURAGE_OP_SUCCESS: number
        static readonly SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_PUBKEYTYPE: number
      }
    }

    class Transaction {
      /** Parses a serialized transaction (with or without witnesses). */
      constructor(serialized: Buffer)
      readonly inputs: Transaction.Input[]
      readonly nLockTime: number
    }

    namespace Transaction {
      class Input {
        readonly script: Script
        readonly sequenceNumber: number
        /** The output this input spends; taproot sighashes read every input's, so it must be set. */
        output: Output | undefined
        getWitnesses(): Buffer[]
      }
      class Output {
        constructor(args: { script: Buffer; satoshis: number })
      }
    }
  }

  export default bitcore
}
