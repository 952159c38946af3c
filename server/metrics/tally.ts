/**
 * A Prometheus counter for the hot path: one label with values known up
 * front, counted in plain numbers and handed to prom-client only when
 * scraped, so counting a message costs an addition, not a label lookup.
 */
import { Counter, type Registry } from 'prom-client'

/** A counter over a fixed set of label values. */
export class Tally<K extends string> {
  private readonly counts: Record<K, number>
  private readonly reported: Record<K, number>

  /** Registers `coedit_…` counter `name` in `register`, labelled `label` with one of `values`. */
  constructor (register: Registry, name: string, help: string, label: string, values: readonly K[]) {
    this.counts = Object.fromEntries(values.map((value) => [value, 0])) as Record<K, number>
    this.reported = { ...this.counts }
    const tally = this
    const counter: Counter<string> = new Counter({
      name,
      help,
      labelNames: [label],
      registers: [register],
      collect () { tally.report(counter, label) }
    })
    // Every value shows from the first scrape, at 0 until counted.
    for (const value of values) counter.inc({ [label]: value }, 0)
  }

  /** Adds `amount` (default 1) to `value`'s count. */
  add (value: K, amount = 1): void {
    this.counts[value] += amount
  }

  private report (counter: Counter<string>, label: string): void {
    for (const value of Object.keys(this.counts) as K[]) {
      const delta = this.counts[value] - this.reported[value]
      if (delta === 0) continue
      counter.inc({ [label]: value }, delta)
      this.reported[value] = this.counts[value]
    }
  }
}
