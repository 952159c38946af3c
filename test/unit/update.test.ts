/**
 * The update check against content policies and nesting depth, on updates
 * Yjs writes and on updates built byte by byte where Yjs cannot write them.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { ChangeSet, Text } from '@codemirror/state'
import { ProtocolError } from '../../server/protocol/errors.js'
import { checkUpdate, type ContentPolicy, type UpdatePolicy, type UpdateShape } from '../../server/protocol/update.js'
import { jsonDepth } from '../../server/protocol/json-depth.js'

const depthLimit = 32
const text: UpdatePolicy = { content: 'text', maxContentDepth: depthLimit }
const structured: UpdatePolicy = { content: 'structured', maxContentDepth: depthLimit }
const any: UpdatePolicy = { content: 'any', maxContentDepth: depthLimit }

/** The ProtocolError code `checkUpdate` throws, or 'accepted'. */
function verdict (update: Uint8Array, policy: UpdatePolicy, doc?: Y.Doc): string {
  try {
    checkUpdate(update, policy, doc)
    return 'accepted'
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err
    return err.code
  }
}

/** The message of the ProtocolError `checkUpdate` throws. */
function refusal (update: Uint8Array, policy: UpdatePolicy, doc?: Y.Doc): string {
  try {
    checkUpdate(update, policy, doc)
  } catch (err) {
    if (err instanceof ProtocolError) return err.message
    throw err
  }
  throw new Error('the update was accepted')
}

/** The updates `edit` makes to `doc`, each as Yjs emits it. */
function updatesOf (doc: Y.Doc, edit: () => void): Uint8Array[] {
  const updates: Uint8Array[] = []
  const record = (update: Uint8Array): void => { updates.push(update) }
  doc.on('update', record)
  edit()
  doc.off('update', record)
  return updates
}

/** The one update `edit` makes to `doc`. */
function updateOf (doc: Y.Doc, edit: () => void): Uint8Array {
  const updates = updatesOf(doc, edit)
  expect(updates).toHaveLength(1)
  return updates[0]
}

/** A value nesting `depth` arrays and objects, alternating, around a string. */
function nested (depth: number): unknown {
  let value: unknown = 'leaf'
  for (let level = 1; level <= depth; level++) value = level % 2 === 0 ? [value] : { d: value }
  return value
}

/** JSON text nesting `depth` arrays, without building the value. */
function nestedJson (depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

/**
 * A one-item update of client 1 at clock 0, in the root type `parent`
 * (under map key `key` if given), holding content of type `contentType`
 * that `writeContent` writes.
 */
function itemUpdate (contentType: number, writeContent: (encoder: encoding.Encoder) => void, parent = 'text', key?: string): Uint8Array {
  const encoder = encoding.createEncoder()
  for (const n of [1, 1, 1, 0]) encoding.writeVarUint(encoder, n) // one client with one struct: client 1 from clock 0
  encoding.writeUint8(encoder, contentType | (key === undefined ? 0 : 0x20))
  encoding.writeVarUint(encoder, 1) // parent by root name
  encoding.writeVarString(encoder, parent)
  if (key !== undefined) encoding.writeVarString(encoder, key)
  writeContent(encoder)
  encoding.writeVarUint(encoder, 0) // no deletions
  return encoding.toUint8Array(encoder)
}

const embedOf = (json: string): Uint8Array => itemUpdate(5, (e) => encoding.writeVarString(e, json))
const formatOf = (json: string): Uint8Array => itemUpdate(6, (e) => { encoding.writeVarString(e, 'bold'); encoding.writeVarString(e, json) })
const legacyJsonOf = (json: string): Uint8Array => itemUpdate(2, (e) => { encoding.writeVarUint(e, 1); encoding.writeVarString(e, json) }, 'list')
/** An `any` value nesting `depth` arrays, written as lib0's `writeAny` would (tag 117, length 1) without recursion. */
const anyOf = (depth: number): Uint8Array => itemUpdate(8, (e) => {
  encoding.writeVarUint(e, 1)
  for (let level = 0; level < depth; level++) { encoding.writeUint8(e, 117); encoding.writeVarUint(e, 1) }
  encoding.writeUint8(e, 126) // null
}, 'map', 'k')

/** Yjs keeps `update` intact: it applies, encodes again, and loads into a fresh document whose JSON can be written. */
function roundTrips (update: Uint8Array): void {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  const fresh = new Y.Doc()
  Y.applyUpdate(fresh, Y.encodeStateAsUpdate(doc))
  for (const name of ['text', 'map', 'list', 'm']) {
    expect(JSON.stringify(fresh.get(name).toJSON())).toBe(JSON.stringify(doc.get(name).toJSON()))
  }
  expect(doc.share.size).toBeGreaterThan(0)
}

/** The update that nests `count` maps inside one another, starting in `start`, and the innermost map. */
function nestMaps (start: Y.Map<unknown>, count: number): { update: Uint8Array, innermost: Y.Map<unknown> } {
  let map = start
  const update = updateOf(start.doc!, () => start.doc!.transact(() => {
    for (let i = 0; i < count; i++) {
      const child = new Y.Map<unknown>()
      map.set('k', child)
      map = child
    }
  }))
  return { update, innermost: map }
}

describe('jsonDepth', () => {
  it('counts arrays and objects outside strings, escapes included', () => {
    expect(jsonDepth('1', 5)).toBe(0)
    expect(jsonDepth('"[[{{"', 5)).toBe(0)
    expect(jsonDepth('[]', 5)).toBe(1)
    expect(jsonDepth('{"a":[1,{"b":"]]\\"[[["}],"c":[[]]}', 5)).toBe(3)
    expect(jsonDepth('["\\\\",[["\\\\"]]]', 5)).toBe(3)
    expect(jsonDepth(nestedJson(5000), 32)).toBe(33)
  })
})

describe('checkUpdate: values nested at most maxContentDepth deep', () => {
  const kinds: Array<{ kind: string, at: (depth: number) => Uint8Array }> = [
    { kind: 'embed', at: (depth) => embedOf(JSON.stringify(nested(depth))) },
    { kind: 'format', at: (depth) => formatOf(JSON.stringify(nested(depth))) },
    { kind: 'legacy JSON', at: (depth) => legacyJsonOf(JSON.stringify(nested(depth))) },
    { kind: 'any', at: anyOf }
  ]

  for (const { kind, at } of kinds) {
    it(`${kind}: depth ${depthLimit} passes and survives Yjs' round trip; ${depthLimit + 1} is refused under every policy that allows it`, () => {
      for (const policy of [structured, any]) {
        expect(verdict(at(depthLimit), policy)).toBe('accepted')
        expect(verdict(at(depthLimit + 1), policy)).toBe('content-refused')
        expect(refusal(at(depthLimit + 1), policy)).toContain(`deeper than ${depthLimit}`)
      }
      roundTrips(at(depthLimit))
    })
  }

  it('refuses an embed of 5000 levels (10 KB) that Yjs reads but can never write again', () => {
    const update = embedOf(nestedJson(5000))
    expect(update.length).toBeLessThan(11_000)
    expect(verdict(update, structured)).toBe('content-refused')
    expect(verdict(update, any)).toBe('content-refused')
    expect(verdict(update, text)).toBe('content-refused')
  })

  it('refuses a format, a legacy JSON value and an `any` of 5000 levels', () => {
    for (const update of [formatOf(nestedJson(5000)), legacyJsonOf(nestedJson(5000)), anyOf(5000)]) {
      expect(verdict(update, any)).toBe('content-refused')
    }
  })

  it('measures values Yjs writes itself: a map entry, an embed, a format and subdocument options', () => {
    const doc = new Y.Doc()
    for (const depth of [depthLimit, depthLimit + 1]) {
      const expected = depth <= depthLimit ? 'accepted' : 'content-refused'
      expect(verdict(updateOf(doc, () => doc.getMap('map').set('k', nested(depth))), structured)).toBe(expected)
      expect(verdict(updateOf(doc, () => doc.getText('text').insertEmbed(0, nested(depth) as object)), structured)).toBe(expected)
      expect(verdict(updateOf(doc, () => doc.getText('text').format(0, 1, { bold: nested(depth) })), structured)).toBe(expected)
      expect(verdict(updateOf(doc, () => doc.getMap('docs').set('sub', new Y.Doc({ meta: nested(depth - 1) }))), any)).toBe(expected)
    }
  })

  it('accepts brackets inside strings and deep values within the limit of a higher configured depth', () => {
    expect(verdict(embedOf(JSON.stringify({ s: '[['.repeat(100) + '"\\' })), structured)).toBe('accepted')
    expect(verdict(embedOf(nestedJson(100)), { content: 'structured', maxContentDepth: 100 })).toBe('accepted')
    expect(verdict(anyOf(100), { content: 'structured', maxContentDepth: 100 })).toBe('accepted')
  })

  it('reads `any` values of every kind as lib0 writes them, objects with several keys around nested values', () => {
    const doc = new Y.Doc()
    const value = {
      a: [1, -70000, 1.5, 2 ** 40, { b: null, c: [true, false, 'x'] }, new Uint8Array([1, 2])],
      d: 'after a nested array',
      e: { f: { g: [[]] }, h: 10n },
      i: undefined
    }
    const update = updateOf(doc, () => doc.getMap('map').set('k', value))
    expect(verdict(update, structured)).toBe('accepted')
    // The value, e, f, g and the array in g: five levels.
    expect(verdict(update, { content: 'structured', maxContentDepth: 5 })).toBe('accepted')
    expect(verdict(update, { content: 'structured', maxContentDepth: 4 })).toBe('content-refused')
    for (let cut = 1; cut < update.length; cut++) {
      expect(verdict(update.slice(0, cut), { content: 'structured', maxContentDepth: 5 })).toBe('invalid-update')
    }
  })

  it('still refuses values that do not parse as invalid updates', () => {
    expect(verdict(embedOf('{"a":'), structured)).toBe('invalid-update')
    expect(verdict(itemUpdate(8, (e) => { encoding.writeVarUint(e, 1); encoding.writeUint8(e, 115) }, 'map', 'k'), structured)).toBe('invalid-update')
    expect(verdict(itemUpdate(8, (e) => { encoding.writeVarUint(e, 1); encoding.writeUint8(e, 117); encoding.writeVarUint(e, 3) }, 'map', 'k'), structured)).toBe('invalid-update')
  })
})

describe('checkUpdate: shared types nested at most maxContentDepth deep', () => {
  it(`accepts ${depthLimit} maps inside one another in one update, which round-trip, and refuses ${depthLimit + 1}`, () => {
    const deepest = nestMaps(new Y.Doc().getMap('m'), depthLimit)
    expect(verdict(deepest.update, structured)).toBe('accepted')
    roundTrips(deepest.update)
    const tooDeep = nestMaps(new Y.Doc().getMap('m'), depthLimit + 1)
    expect(verdict(tooDeep.update, structured)).toBe('content-refused')
    expect(refusal(tooDeep.update, structured)).toContain('a shared type nests deeper than 32')
  })

  it('counts the depth across updates through the document the update goes to', () => {
    const client = new Y.Doc()
    const server = new Y.Doc()
    const first = nestMaps(client.getMap('m'), 20)
    expect(verdict(first.update, structured, server)).toBe('accepted')
    Y.applyUpdate(server, first.update)
    const second = nestMaps(first.innermost, depthLimit - 20)
    expect(verdict(second.update, structured, server)).toBe('accepted')
    Y.applyUpdate(server, second.update)
    const third = nestMaps(second.innermost, 1)
    expect(verdict(third.update, structured, server)).toBe('content-refused')
    expect(verdict(third.update, { content: 'structured', maxContentDepth: depthLimit + 1 }, server)).toBe('accepted')
    // Without the document, only the nesting in the update itself is counted.
    expect(verdict(third.update, structured)).toBe('accepted')
    // A value in the innermost map is not a type, and passes.
    expect(verdict(updateOf(client, () => second.innermost.set('v', 1)), structured, server)).toBe('accepted')
  })

  it('finds the parent of items placed next to others: arrays and text in nested types, in the update and in the document', () => {
    const client = new Y.Doc()
    const server = new Y.Doc()
    const oneMore: UpdatePolicy = { content: 'structured', maxContentDepth: depthLimit + 1 }
    const inner = nestMaps(client.getMap('m'), depthLimit - 1)
    Y.applyUpdate(server, inner.update)
    const list = new Y.Array<unknown>()
    // The array is at the limit; items after its first are placed by their left neighbour.
    const arrayUpdate = updateOf(client, () => client.transact(() => {
      inner.innermost.set('list', list)
      list.insert(0, ['a', 'b'])
    }))
    expect(verdict(arrayUpdate, structured, server)).toBe('accepted')
    Y.applyUpdate(server, arrayUpdate)
    const cases = [
      // A type inserted after an item of the array (its origin in the document).
      updateOf(client, () => list.push([new Y.Text()])),
      // A type whose left neighbour arrives in the same update.
      updateOf(client, () => client.transact(() => {
        list.insert(0, ['c'])
        list.insert(1, [new Y.Map()])
      })),
      // A type before the first item: right origin only.
      updateOf(client, () => list.insert(0, [new Y.Array()]))
    ]
    for (const update of cases) {
      expect(verdict(update, structured, server)).toBe('content-refused')
      expect(verdict(update, oneMore, server)).toBe('accepted')
      Y.applyUpdate(server, update)
    }
  })

  it('refuses, when the document is given, a shared type whose parent is in neither the update nor the document', () => {
    const client = new Y.Doc()
    const { update: parentUpdate, innermost } = nestMaps(client.getMap('m'), 1)
    const child = nestMaps(innermost, 1).update
    const server = new Y.Doc()
    expect(verdict(child, structured, server)).toBe('content-refused')
    expect(verdict(child, structured)).toBe('accepted')
    Y.applyUpdate(server, parentUpdate)
    expect(verdict(child, structured, server)).toBe('accepted')
  })

  it('counts XML elements and text inside one another', () => {
    const doc = new Y.Doc()
    const update = updateOf(doc, () => doc.transact(() => {
      let parent: Y.XmlFragment | Y.XmlElement = doc.getXmlFragment('xml')
      for (let i = 0; i < depthLimit; i++) {
        const element = new Y.XmlElement('p')
        parent.insert(0, [element])
        parent = element
      }
      parent.insert(0, [new Y.XmlText('deep')])
    }))
    expect(verdict(update, structured)).toBe('content-refused')
    expect(verdict(update, { content: 'structured', maxContentDepth: depthLimit + 1 })).toBe('accepted')
  })
})

describe('checkUpdate: content policies', () => {
  /** Applies CodeMirror changes to `ytext` as y-codemirror.next's sync plugin does. */
  function applyAsEditor (ytext: Y.Text, changes: ChangeSet): void {
    ytext.doc!.transact(() => {
      let adj = 0
      changes.iterChanges((fromA, toA, _fromB, _toB, insert) => {
        const insertText = insert.sliceString(0, insert.length, '\n')
        if (fromA !== toA) ytext.delete(fromA + adj, toA - fromA)
        if (insertText.length > 0) ytext.insert(fromA + adj, insertText)
        adj += insertText.length - (toA - fromA)
      })
    }, 'editor')
  }

  it('text: accepts what the editor writes to Y.Text: typing, deleting, pasting, replacing, undo and redo, sync step 2', () => {
    const doc = new Y.Doc()
    const ytext = doc.getText('text')
    const undo = new Y.UndoManager(ytext, { trackedOrigins: new Set(['editor']) })
    const server = new Y.Doc()
    const updates = updatesOf(doc, () => {
      const edit = (spec: Parameters<typeof ChangeSet.of>[0]): void => {
        applyAsEditor(ytext, ChangeSet.of(spec, ytext.length))
        undo.stopCapturing()
      }
      for (const char of 'hello') edit({ from: ytext.length, insert: char })
      edit({ from: 1, to: 3 })
      edit({ from: 0, insert: Text.of(['pasted line one', 'line two', 'é😀']) })
      edit([{ from: 0, to: 2, insert: 'X' }, { from: 5, to: 8, insert: 'YY' }])
      undo.undo()
      undo.undo()
      undo.redo()
      edit({ from: 0, to: ytext.length })
      undo.undo()
    })
    expect(updates.length).toBeGreaterThan(8)
    for (const update of updates) {
      expect(verdict(update, text, server)).toBe('accepted')
      Y.applyUpdate(server, update)
    }
    expect(verdict(Y.encodeStateAsUpdate(doc), text)).toBe('accepted')
    expect(verdict(Y.mergeUpdates(updates), text)).toBe('accepted')
    // The state of a document whose text was deleted holds deleted content.
    const collected = new Y.Doc()
    Y.applyUpdate(collected, Y.encodeStateAsUpdate(doc))
    collected.getText('text').delete(0, collected.getText('text').length)
    expect(verdict(Y.encodeStateAsUpdate(collected), text)).toBe('accepted')
  })

  const others: Array<{ found: string, write: (doc: Y.Doc) => void }> = [
    { found: "content in the shared type 'map'", write: (doc) => doc.getMap('map').set('k', 'v') },
    { found: "content in the shared type 'list'", write: (doc) => doc.getArray('list').insert(0, [1]) },
    { found: "content in the shared type 'xml'", write: (doc) => doc.getXmlFragment('xml').insert(0, [new Y.XmlText('x')]) },
    { found: "content in the shared type 'other'", write: (doc) => doc.getText('other').insert(0, 'x') },
    { found: 'a format', write: (doc) => { doc.getText('text').insert(0, 'x'); doc.getText('text').format(0, 1, { bold: true }) } },
    { found: 'an embed', write: (doc) => doc.getText('text').insertEmbed(0, { image: 'x' }) },
    { found: 'a format', write: (doc) => doc.getText('text').insert(0, 'x', { bold: true }) },
    { found: 'a shared type', write: (doc) => doc.getText('text').insertEmbed(0, new Y.Map()) }
  ]
  for (const [index, { found, write }] of others.entries()) {
    it(`text: refuses ${found}, naming it (${index})`, () => {
      const doc = new Y.Doc()
      const update = updateOf(doc, () => doc.transact(() => write(doc)))
      expect(verdict(update, text)).toBe('content-refused')
      expect(refusal(update, text)).toContain(`this server accepts only text in 'text'; found ${found}`)
      expect(verdict(update, any)).toBe('accepted')
    })
  }

  it('text: refuses binary data, subdocuments, map keys and parents by id, written by hand where Yjs would not', () => {
    expect(refusal(itemUpdate(3, (e) => encoding.writeVarUint8Array(e, new Uint8Array([1]))), text)).toContain('found binary data')
    const subdoc = itemUpdate(9, (e) => { encoding.writeVarString(e, 'guid'); encoding.writeAny(e, {}) })
    expect(refusal(subdoc, text)).toContain('found a subdocument')
    expect(verdict(subdoc, any)).toBe('accepted')
    expect(refusal(itemUpdate(4, (e) => encoding.writeVarString(e, 'x'), 'text', 'key'), text)).toContain('found a map entry')
    const byId = encoding.createEncoder()
    for (const n of [1, 1, 2, 5]) encoding.writeVarUint(byId, n) // client 2 from clock 5
    encoding.writeUint8(byId, 4)
    for (const n of [0, 1, 0]) encoding.writeVarUint(byId, n) // parent: the type held by item (1, 0)
    encoding.writeVarString(byId, 'x')
    encoding.writeVarUint(byId, 0)
    expect(refusal(encoding.toUint8Array(byId), text)).toContain('found content inside a nested shared type')
  })

  it('structured: accepts every kind of content but subdocuments', () => {
    const doc = new Y.Doc()
    const update = updateOf(doc, () => doc.transact(() => {
      for (const { write } of others) write(doc)
      doc.getArray('list').insert(0, [new Uint8Array([1, 2]), { n: [1, 2] }])
    }))
    expect(verdict(update, structured)).toBe('accepted')
    const subdoc = updateOf(doc, () => doc.getMap('docs').set('sub', new Y.Doc()))
    expect(verdict(subdoc, structured)).toBe('content-refused')
    expect(refusal(subdoc, structured)).toContain("subdocuments (content policy 'structured')")
    expect(verdict(subdoc, any)).toBe('accepted')
  })

  it('keeps refusing what does not parse, under every policy, before or regardless of content', () => {
    for (const content of ['text', 'structured', 'any'] as ContentPolicy[]) {
      const policy = { content, maxContentDepth: depthLimit }
      expect(verdict(new Uint8Array([1, 1]), policy)).toBe('invalid-update')
      const doc = new Y.Doc()
      const update = updateOf(doc, () => doc.getText('text').insert(0, 'abc'))
      expect(verdict(update.subarray(0, update.length - 1), policy)).toBe('invalid-update')
    }
  })
})

describe('checkUpdate: shape', () => {
  it('counts structs, delete ranges and subdocuments of real updates', () => {
    const doc = new Y.Doc()
    const ytext = doc.getText('text')
    const typed = updateOf(doc, () => ytext.insert(0, 'a'))
    expect(checkUpdate(typed, text)).toMatchObject<Partial<UpdateShape>>({ structs: 1, deleteRanges: 0, subdocuments: 0 })
    updateOf(doc, () => ytext.insert(1, 'bcdefgh'))
    const deleted = updateOf(doc, () => doc.transact(() => { ytext.delete(5, 1); ytext.delete(1, 2) }))
    expect(checkUpdate(deleted, text)).toMatchObject<Partial<UpdateShape>>({ structs: 0, deleteRanges: 2, subdocuments: 0 })
    const subdocs = updateOf(doc, () => doc.transact(() => {
      for (let i = 0; i < 3; i++) doc.getMap('docs').set(`d${i}`, new Y.Doc())
      doc.getMap('map').set('x', 1)
    }))
    expect(checkUpdate(subdocs, any)).toMatchObject<Partial<UpdateShape>>({ structs: 4, deleteRanges: 0, subdocuments: 3 })

    // The whole state after a second client edited: two clients' structs, the overwritten map entry deleted.
    const other = new Y.Doc()
    Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
    other.getText('text').insert(0, 'zz')
    other.getMap('map').set('x', 2)
    const state = Y.encodeStateAsUpdate(other)
    const { structs, ds } = Y.decodeUpdate(state)
    const expected: Partial<UpdateShape> = {
      structs: structs.filter((struct) => !(struct instanceof Y.Skip)).length,
      deleteRanges: [...ds.clients.values()].reduce((sum, ranges) => sum + ranges.length, 0),
      subdocuments: 3
    }
    expect(expected.deleteRanges).toBeGreaterThan(1)
    expect(checkUpdate(state, any)).toMatchObject(expected)
  })

  it('does not count the skips of merged updates', () => {
    const doc = new Y.Doc()
    const updates = updatesOf(doc, () => { for (const char of 'abc') doc.getText('text').insert(0, char) })
    const gapped = Y.mergeUpdates([updates[0], updates[2]])
    expect(Y.decodeUpdate(gapped).structs.some((struct) => struct instanceof Y.Skip)).toBe(true)
    expect(checkUpdate(gapped, text)).toMatchObject<Partial<UpdateShape>>({ structs: 2, deleteRanges: 0, subdocuments: 0 })
  })
})

describe('checkUpdate: refusals never quote content', () => {
  it('names a JSON syntax error without the text it choked on, since refusals are logged', () => {
    const secret = 'the launch code is 0000'
    let refusal: unknown
    try {
      checkUpdate(embedOf(`{"note": ${secret}}`), structured)
    } catch (err) {
      refusal = err
    }
    expect(refusal).toBeInstanceOf(ProtocolError)
    expect((refusal as ProtocolError).code).toBe('invalid-update')
    expect((refusal as ProtocolError).message).not.toContain('launch')
  })
})
