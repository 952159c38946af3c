/**
 * People's colours: the palette's contrast in light and dark pages, its
 * names, and the rule that gives everyone present a colour of their own,
 * both as a pure function and between pages exchanging real presence
 * (awareness) updates.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import {
  assignColours, colourName, contrastRatio, labelTextColours, palette, readableTextOn, type ColourClaim
} from '../../editor/collab/colours.js'
import { keepColourDistinct, peopleIn, publishIdentity } from '../../editor/collab/presence.js'
import { staleAfterMs } from '../../editor/collab/away.js'
import { seededRandom } from '../helpers/random.js'

/** The page and header backgrounds of styles.css in each scheme. */
const backgrounds = { light: ['#ffffff', '#f6f8fa'], dark: ['#0d1117', '#161b22'] }

/** `count` pages of different people who all chose `chosen`, opened one after the other. */
function sameChoice (count: number, chosen: string): ColourClaim[] {
  return Array.from({ length: count }, (_, i) => ({ clientId: 1000 - i, personId: `p${i}`, chosen, since: 100 + i, fixed: false }))
}

describe('the palette', () => {
  it('has twelve distinctly named colours', () => {
    expect(palette).toHaveLength(12)
    expect(new Set(palette.map((colour) => colour.name)).size).toBe(12)
    expect(new Set(palette.map((colour) => colour.light)).size).toBe(12)
    expect(colourName('#C2255C')).toBe('Ruby')
    expect(colourName('#123456')).toBe('custom colour')
  })

  it('draws carets at 4.5:1 or more against the page and header, in light and dark schemes', () => {
    for (const colour of palette) {
      for (const background of backgrounds.light) expect(contrastRatio(colour.light, background), `${colour.name} on ${background}`).toBeGreaterThanOrEqual(4.5)
      for (const background of backgrounds.dark) expect(contrastRatio(colour.dark, background), `${colour.name} on ${background}`).toBeGreaterThanOrEqual(4.5)
    }
  })

  it('picks label text by luminance, at 4.5:1 or more on every shade', () => {
    for (const colour of palette) {
      for (const shade of [colour.light, colour.dark]) {
        const text = readableTextOn(shade)
        expect(contrastRatio(text, shade), `label text on ${colour.name} ${shade}`).toBeGreaterThanOrEqual(4.5)
      }
      expect(readableTextOn(colour.light)).toBe(labelTextColours.light)
      expect(readableTextOn(colour.dark)).toBe(labelTextColours.dark)
    }
    expect(readableTextOn('#ffff00')).toBe(labelTextColours.dark)
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5)
  })
})

describe('the distinct colour rule', () => {
  it.each([9, 12])('gives %i people who all chose one colour as many different colours, the first to arrive keeping it', (count) => {
    const assigned = assignColours(sameChoice(count, palette[0].light))
    expect(new Set(assigned.values()).size).toBe(count)
    expect(assigned.get('p0')).toBe(palette[0].light)
    expect(assigned.get('p1')).toBe(palette[1].light)
  })

  it.each([9, 12])('keeps %i people with random choices distinct, whatever the order the claims come in', (count) => {
    const random = seededRandom(count)
    for (let round = 0; round < 50; round++) {
      const claims = Array.from({ length: count }, (_, i): ColourClaim => ({
        clientId: random.int(2 ** 31),
        personId: `p${i}`,
        chosen: palette[random.int(palette.length)].light,
        since: random.int(5),
        fixed: false
      }))
      const assigned = assignColours(claims)
      expect(new Set(assigned.values()).size).toBe(count)
      // Every page computes the same answer from the same claims, in any order.
      expect(assignColours([...claims].reverse())).toEqual(assigned)
      // Whoever has no earlier rival for their choice keeps it.
      for (const claim of claims) {
        const rival = claims.some((other) => other !== claim && other.chosen === claim.chosen && (other.since < claim.since || (other.since === claim.since && other.clientId < claim.clientId)))
        if (!rival) expect(assigned.get(claim.personId)).toBe(claim.chosen)
      }
    }
  })

  it('gives the pages of one person one colour, and lets an editor without the rule keep its colour', () => {
    const claims: ColourClaim[] = [
      { clientId: 5, personId: 'ada', chosen: palette[0].light, since: 10, fixed: false },
      { clientId: 3, personId: 'ada', chosen: palette[0].light, since: 20, fixed: false },
      { clientId: 9, personId: 'page:9', chosen: palette[0].light, since: 0, fixed: true },
      { clientId: 7, personId: 'bob', chosen: palette[1].light, since: 5, fixed: false }
    ]
    const assigned = assignColours(claims)
    expect(assigned.size).toBe(3)
    expect(assigned.get('page:9')).toBe(palette[0].light)
    expect(assigned.get('bob')).toBe(palette[1].light)
    expect(assigned.get('ada')).toBe(palette[2].light)
  })
})

describe('colours between pages', () => {
  /** `count` pages whose presence reaches every other page, like a relay would pass it on. */
  function pages (count: number): Awareness[] {
    const all = Array.from({ length: count }, (_, i) => {
      const doc = new Y.Doc()
      doc.clientID = 10 + i
      return new Awareness(doc)
    })
    for (const from of all) {
      from.on('update', ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }) => {
        const update = encodeAwarenessUpdate(from, [...added, ...updated, ...removed])
        for (const to of all) if (to !== from) applyAwarenessUpdate(to, update, 'relay')
      })
    }
    return all
  }

  it.each([9, 12])('shows %i people who all chose Ruby in different colours on every page, each keeping Ruby as their choice', (count) => {
    const all = pages(count)
    all.forEach((awareness, i) => {
      keepColourDistinct(awareness)
      publishIdentity(awareness, { name: `Person ${i}`, color: palette[0].light }, `person${i}`)
    })
    for (const awareness of all) {
      const people = peopleIn(awareness)
      expect(people).toHaveLength(count)
      expect(new Set(people.map((person) => person.color)).size).toBe(count)
      expect((awareness.getLocalState()?.user as { chosenColor: string }).chosenColor).toBe(palette[0].light)
    }
    // The first to arrive keeps Ruby; when they leave, the next in line gets it back.
    expect((all[0].getLocalState()?.user as { color: string }).color).toBe(palette[0].light)
    all[0].setLocalState(null)
    expect((all[1].getLocalState()?.user as { color: string }).color).toBe(palette[0].light)
    for (const awareness of all.slice(1)) expect(new Set(peopleIn(awareness).map((person) => person.color)).size).toBe(count - 1)
  })

  it('lists two pages of one person once, away only when both are', () => {
    const [one, two, other] = pages(3)
    publishIdentity(one, { name: 'Ada', color: palette[0].light }, 'ada')
    publishIdentity(two, { name: 'Ada', color: palette[0].light }, 'ada')
    publishIdentity(other, { name: 'Bob', color: palette[1].light }, 'bob')
    one.setLocalStateField('user', { ...one.getLocalState()?.user, away: true })
    expect(peopleIn(other).map(({ name, pages, away }) => ({ name, pages, away }))).toEqual([
      { name: 'Bob', pages: 1, away: false }, { name: 'Ada', pages: 2, away: false }
    ])
    two.setLocalStateField('user', { ...two.getLocalState()?.user, away: true })
    expect(peopleIn(other)[1]).toMatchObject({ name: 'Ada', away: true, pages: 2, self: false })
    expect(peopleIn(one)[0]).toMatchObject({ name: 'Ada', self: true, pages: 2 })
  })

  it('shows a person whose presence went unrenewed past the stale limit as away, and never this page to itself', () => {
    const [own, other] = pages(2)
    publishIdentity(own, { name: 'Ada', color: palette[0].light }, 'ada')
    publishIdentity(other, { name: 'Bob', color: palette[1].light }, 'bob')
    expect(peopleIn(own).map(({ name, away }) => ({ name, away }))).toEqual([{ name: 'Ada', away: false }, { name: 'Bob', away: false }])
    // Bob's last renewal reached this page longer ago than the stale limit: cut off, most likely.
    const bob = own.meta.get(other.clientID)
    if (!bob) throw new Error('Bob has no presence metadata')
    own.meta.set(other.clientID, { ...bob, lastUpdated: Date.now() - staleAfterMs - 1 })
    const self = own.meta.get(own.clientID)
    if (self) own.meta.set(own.clientID, { ...self, lastUpdated: Date.now() - staleAfterMs - 1 })
    expect(peopleIn(own).map(({ name, away }) => ({ name, away }))).toEqual([{ name: 'Ada', away: false }, { name: 'Bob', away: true }])
  })
})
