// The @dfinity/agent flow against a chainkey subnet: create a canister,
// install a Motoko module, call, query, upgrade keeping the heap, and read
// certified data through a verified certificate.
//   node agent-flow.js <node url> <module.wasm>
// Exits non-zero, with the reason, on the first failure.
const fs = require('fs');
const assert = require('assert');
const { HttpAgent, Actor, Certificate, lookupResultToBuffer } = require('@dfinity/agent');
const { IDL } = require('@dfinity/candid');
const { Ed25519KeyIdentity } = require('@dfinity/identity');
const { Principal } = require('@dfinity/principal');

const management = ({ IDL }) => {
  const mode = IDL.Variant({
    install: IDL.Null,
    reinstall: IDL.Null,
    upgrade: IDL.Opt(IDL.Record({
      skip_pre_upgrade: IDL.Opt(IDL.Bool),
      wasm_memory_persistence: IDL.Opt(IDL.Variant({ keep: IDL.Null, replace: IDL.Null })),
    })),
  });
  return IDL.Service({
    provisional_create_canister_with_cycles: IDL.Func(
      [IDL.Record({
        amount: IDL.Opt(IDL.Nat),
        settings: IDL.Opt(IDL.Record({ controllers: IDL.Opt(IDL.Vec(IDL.Principal)) })),
        specified_id: IDL.Opt(IDL.Principal),
      })],
      [IDL.Record({ canister_id: IDL.Principal })],
      [],
    ),
    install_code: IDL.Func(
      [IDL.Record({
        mode,
        canister_id: IDL.Principal,
        wasm_module: IDL.Vec(IDL.Nat8),
        arg: IDL.Vec(IDL.Nat8),
      })],
      [],
      [],
    ),
  });
};

const counter = ({ IDL }) => IDL.Service({
  increment: IDL.Func([], [IDL.Nat], []),
  get: IDL.Func([], [IDL.Nat], ['query']),
  set_label: IDL.Func([IDL.Text], [], []),
  get_label: IDL.Func([], [IDL.Text], ['query']),
});

async function main() {
  const [host, wasmPath] = process.argv.slice(2);
  const wasm = Array.from(fs.readFileSync(wasmPath));
  const identity = Ed25519KeyIdentity.generate(new Uint8Array(32).fill(7));
  const agent = await HttpAgent.create({ host, identity, shouldFetchRootKey: true });
  const ic = Actor.createActor(management, {
    agent,
    canisterId: Principal.fromText('aaaaa-aa'),
    effectiveCanisterId: Principal.fromText('aaaaa-aa'),
  });
  const { canister_id: canisterId } = await ic.provisional_create_canister_with_cycles({
    amount: [],
    settings: [],
    specified_id: [],
  });
  const icFor = Actor.createActor(management, {
    agent,
    canisterId: Principal.fromText('aaaaa-aa'),
    effectiveCanisterId: canisterId,
  });
  await icFor.install_code({ mode: { install: null }, canister_id: canisterId, wasm_module: wasm, arg: [] });
  const actor = Actor.createActor(counter, { agent, canisterId });
  assert.strictEqual(await actor.increment(), 1n);
  assert.strictEqual(await actor.increment(), 2n);
  assert.strictEqual(await actor.get(), 2n);
  await actor.set_label('from agent-js');

  // certified_data through a certificate verified under the root key.
  const path = [new TextEncoder().encode('canister'), canisterId.toUint8Array(),
    new TextEncoder().encode('certified_data')];
  const state = await agent.readState(canisterId, { paths: [path] });
  const certificate = await Certificate.create({
    certificate: state.certificate,
    rootKey: agent.rootKey,
    canisterId,
  });
  const data = lookupResultToBuffer(certificate.lookup_path(path));
  assert.strictEqual(new TextDecoder().decode(data), 'from agent-js');

  await icFor.install_code({
    mode: { upgrade: [{ skip_pre_upgrade: [], wasm_memory_persistence: [{ keep: null }] }] },
    canister_id: canisterId,
    wasm_module: wasm,
    arg: [],
  });
  assert.strictEqual(await actor.get(), 2n);
  assert.strictEqual(await actor.get_label(), 'from agent-js');
  assert.strictEqual(await actor.increment(), 3n);
  console.log('agent-js flow passed for canister', canisterId.toText());
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
