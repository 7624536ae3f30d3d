import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { deserializeError, serializeError, type SerializedError, type SerializedValue } from '../../src/transport/errors.js';
import { hostile } from '../fixtures/hostile-errors.js';

/** What the other side of a boundary sees: serialized, carried by v8 serialization, rebuilt. */
function roundTrip(thrown: unknown): any {
  const data = serializeError(thrown);
  const carried = deserialize(serialize(data)) as SerializedError | SerializedValue;
  return deserializeError(carried);
}

const UNREADABLE = /could not be read/;

describe('serializeError on values that fight back', () => {
  it('an own getter that throws: the error keeps its class, message and readable properties', () => {
    const err = roundTrip(hostile.getterProp());
    assert.equal(Object.getPrototypeOf(err), RangeError.prototype);
    assert.equal(err.message, 'has a throwing getter');
    assert.equal(err.code, 'E_GETTER');
    assert.match(err.details, UNREADABLE);
    assert.match(err.details, /details getter trap/);
  });

  it('message, name and stack getters that throw: the class name survives, the message says it could not be read', () => {
    const err = roundTrip(hostile.unreadable());
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'Unreadable');
    assert.match(err.message, UNREADABLE);
    const bare = roundTrip(hostile.noConstructor());
    assert.ok(bare instanceof Error);
    assert.equal(bare.name, 'Error');
    assert.match(bare.message, UNREADABLE);
  });

  it('throwing toJSON/toString on the error and on a property that cannot be cloned', () => {
    const err = roundTrip(hostile.toJSON());
    assert.equal(Object.getPrototypeOf(err), TypeError.prototype);
    assert.equal(err.message, 'has a throwing toJSON');
    assert.equal(err.code, 'E_JSON');
    assert.equal(typeof err.odd, 'string');
    assert.match(err.odd, UNREADABLE);
  });

  it('a Proxy that throws on every trap becomes an Error saying so', () => {
    for (const kind of ['proxy', 'nonErrorProxy'] as const) {
      const err = roundTrip(hostile[kind]());
      assert.ok(err instanceof Error, kind);
      assert.match(err.message, /threw a value that could not be read/, kind);
      assert.match(err.message, /trap/, kind);
    }
  });

  it('a cause chain that loops arrives as the same loop', () => {
    const err = roundTrip(hostile.circularCause());
    assert.equal(err.message, 'first in the loop');
    assert.ok(err.cause instanceof TypeError);
    assert.equal(err.cause.message, 'second in the loop');
    assert.equal(err.cause.cause, err);
    const self = roundTrip(hostile.selfCause());
    assert.equal(self.cause, self);
  });

  it('a hostile cause and hostile AggregateError members are carried as far as they can be read', () => {
    const err = roundTrip(hostile.proxyCause());
    assert.equal(err.message, 'cause is hostile');
    assert.ok(err.cause instanceof Error);
    assert.match(err.cause.message, /could not be read/);
    const agg = roundTrip(hostile.aggregate());
    assert.ok(agg instanceof AggregateError);
    assert.equal(agg.message, 'several failed');
    assert.equal(agg.errors.length, 3);
    assert.equal(agg.errors[0].name, 'Unreadable');
    assert.match(agg.errors[1].message, /could not be read/);
    assert.ok(agg.errors[2] instanceof RangeError);
  });

  it('a thrown plain object with a throwing getter keeps its readable properties', () => {
    const value = roundTrip(hostile.nonErrorGetters());
    assert.equal(value.code, 'E_PLAIN');
    assert.equal(value.count, 3);
    assert.match(value.detail, UNREADABLE);
  });

  it('an own __proto__ key arrives as a property, never as the prototype', () => {
    const err = roundTrip(hostile.protoKey());
    assert.equal(Object.getPrototypeOf(err), Error.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(err, '__proto__')?.value, { polluted: true });
    assert.equal((err as { polluted?: unknown }).polluted, undefined);
  });

  it('a class named like an Object.prototype method is rebuilt as an Error of that name', () => {
    const err = roundTrip(hostile.oddClassName());
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'toString');
    assert.equal(err.message, 'class named toString');
  });

  it('a cause chain 100,000 deep is cut, not a stack overflow', () => {
    const err = roundTrip(hostile.deepCause());
    assert.equal(err.message, 'level 100000');
    let depth = 0;
    for (let e = err; e?.cause !== undefined; e = e.cause) depth++;
    assert.ok(depth >= 8 && depth < 100, `kept ${depth} causes`);
  });

  it('anything thrown serializes without throwing and survives the trip', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }), (value) => {
        roundTrip(value);
        const err = Object.assign(new Error('carrier'), { payload: value });
        assert.equal(roundTrip(err).message, 'carrier');
      }),
    );
  });
});
