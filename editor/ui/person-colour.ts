/**
 * Paints an element in a person's colour, in the shade that suits the
 * page's light or dark scheme (styles.css picks one of the two).
 */
import { readableTextOn, shadesOf } from '../collab/colours.js'

/**
 * Sets on `element` the custom properties `--person-light`/`--person-dark`
 * (the shades of `color`) and `--on-person-light`/`--on-person-dark` (text
 * readable on them); the class `person-colour` turns them into its
 * background and text colour.
 */
export function paintPersonColour (element: HTMLElement, color: string): void {
  const { light, dark } = shadesOf(color)
  element.classList.add('person-colour')
  element.style.setProperty('--person-light', light)
  element.style.setProperty('--person-dark', dark)
  element.style.setProperty('--on-person-light', readableTextOn(light))
  element.style.setProperty('--on-person-dark', readableTextOn(dark))
}
