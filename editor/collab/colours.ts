/**
 * The colours people are shown in: a named palette with a shade for light
 * and one for dark pages, the contrast arithmetic of WCAG 2, and the rule
 * that gives everyone present a colour of their own.
 */

/** One colour of the palette. */
export interface PaletteColour {
  /** Its name in words, for screen readers and the name dialog ("Ruby"). */
  readonly name: string
  /**
   * The shade shown on light pages, as `#rrggbb`; it is also the colour
   * published to others and kept as a person's choice. At least 4.5:1
   * against the light page and its header, with white text on it.
   */
  readonly light: string
  /** The shade shown on dark pages: at least 4.5:1 against them, with dark text on it. */
  readonly dark: string
}

/**
 * The colours to choose from, ordered so that each next free one differs
 * most from those before it (the distinct rule hands them out in order).
 */
export const palette: readonly PaletteColour[] = [
  { name: 'Ruby', light: '#c2255c', dark: '#f783ac' },
  { name: 'Blue', light: '#1971c2', dark: '#74c0fc' },
  { name: 'Green', light: '#2f7d3b', dark: '#69db7c' },
  { name: 'Orange', light: '#c2410c', dark: '#ffa94d' },
  { name: 'Violet', light: '#7048e8', dark: '#b197fc' },
  { name: 'Teal', light: '#0b7285', dark: '#3bc9db' },
  { name: 'Red', light: '#c92a2a', dark: '#ff8787' },
  { name: 'Indigo', light: '#3b5bdb', dark: '#91a7ff' },
  { name: 'Lime', light: '#537a0c', dark: '#a9e34b' },
  { name: 'Purple', light: '#9c36b5', dark: '#e599f7' },
  { name: 'Jade', light: '#087f5b', dark: '#38d9a9' },
  { name: 'Gold', light: '#8f5b00', dark: '#fcc419' }
]

/** The text colours a label may take: white, or the dark page's near-black. */
export const labelTextColours = { light: '#ffffff', dark: '#0d1117' } as const

/** The palette entry whose light shade is `color` (any case), or null for a colour from outside it. */
export function paletteColour (color: string): PaletteColour | null {
  const wanted = color.toLowerCase()
  return palette.find((entry) => entry.light === wanted) ?? null
}

/** `color`'s name in words: the palette name, or "custom colour" for one from outside it. */
export function colourName (color: string): string {
  return paletteColour(color)?.name ?? 'custom colour'
}

/** The shades `color` is drawn in on light and on dark pages; a colour from outside the palette is drawn as it is on both. */
export function shadesOf (color: string): { readonly light: string, readonly dark: string } {
  const entry = paletteColour(color)
  return entry ?? { light: color, dark: color }
}

/**
 * `color` (`#rrggbb`) as browsers write it back into a style attribute,
 * `rgb(r, g, b)`; needed to recognise it in one.
 */
export function cssRgb (color: string): string {
  const [r, g, b] = [1, 3, 5].map((at) => parseInt(color.slice(at, at + 2), 16))
  return `rgb(${r}, ${g}, ${b})`
}

/** WCAG 2 relative luminance of a `#rrggbb` colour, from 0 (black) to 1 (white). */
export function relativeLuminance (color: string): number {
  const [r, g, b] = [1, 3, 5].map((at) => {
    const channel = parseInt(color.slice(at, at + 2), 16) / 255
    return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4
  })
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}

/** WCAG 2 contrast ratio of two `#rrggbb` colours, from 1 to 21, in either order. */
export function contrastRatio (one: string, other: string): number {
  const [lighter, darker] = [relativeLuminance(one), relativeLuminance(other)].sort((a, b) => b - a)
  return (lighter + 0.05) / (darker + 0.05)
}

/** The label text colour (white or near-black) with the higher contrast on `background`. */
export function readableTextOn (background: string): string {
  const { light, dark } = labelTextColours
  return contrastRatio(light, background) >= contrastRatio(dark, background) ? light : dark
}

/** What the distinct rule knows of one page present in the document. */
export interface ColourClaim {
  /** The page's presence id (awareness client id); breaks ties. */
  readonly clientId: number
  /** The person's per-browser id: pages of one person share a colour. */
  readonly personId: string
  /** The colour the person chose (kept in their browser). */
  readonly chosen: string
  /** When the page opened, in ms by its own clock; earlier pages keep their choice. */
  readonly since: number
  /**
   * A page that does not follow this rule (an editor without it): it keeps
   * `chosen` whatever happens, so it goes first.
   */
  readonly fixed: boolean
}

/**
 * The colour each person present is shown in, by person id. Every page
 * computes it from the same claims, so all agree without talking it over:
 * pages that do not follow the rule keep their colour; then people in the
 * order they arrived (their earliest page's `since`, then lowest client id)
 * keep their chosen colour when nobody before them has it, and otherwise
 * get the first palette colour that nobody has and nobody present chose
 * (so that no one later loses their choice to them; with at most as many
 * people as colours there always is one). Past the palette's size colours
 * repeat: a person then keeps their choice.
 */
export function assignColours (claims: Iterable<ColourClaim>): Map<string, string> {
  // Each person once, represented by their earliest page (which also decides their choice).
  const first = new Map<string, ColourClaim>()
  const earlier = (a: ColourClaim, b: ColourClaim): number => Number(b.fixed) - Number(a.fixed) || a.since - b.since || a.clientId - b.clientId
  for (const claim of claims) {
    const known = first.get(claim.personId)
    if (!known || earlier(claim, known) < 0) first.set(claim.personId, claim)
  }
  const wanted = new Set([...first.values()].map((claim) => claim.chosen.toLowerCase()))
  const taken = new Set<string>()
  const assigned = new Map<string, string>()
  const firstFree = (skip: (color: string) => boolean): string | undefined => palette.find((entry) => !taken.has(entry.light) && !skip(entry.light))?.light
  for (const claim of [...first.values()].sort(earlier)) {
    const chosen = claim.chosen.toLowerCase()
    const free = claim.fixed || !taken.has(chosen) ? chosen : firstFree((color) => wanted.has(color)) ?? firstFree(() => false) ?? chosen
    taken.add(free)
    assigned.set(claim.personId, free)
  }
  return assigned
}
