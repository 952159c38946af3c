/**
 * The dialog in which a person sets the name and colour others see.
 */
import { cleanDisplayName, maxDisplayNameLength, type Identity } from '../collab/identity.js'
import { colourName, palette } from '../collab/colours.js'
import { paintPersonColour } from './person-colour.js'

/** Words for the two occasions the dialog opens on. */
export interface NameDialogText {
  readonly title: string
  readonly cancel: string
}

/**
 * Opens `dialog` (an empty `<dialog>`) as a modal with `current` filled in,
 * and resolves with the identity chosen, or null when it was cancelled or
 * the name left blank. With `nameFixed` (the access link sets the name) the
 * name is shown but cannot be changed; only the colour can.
 */
export function askIdentity (dialog: HTMLDialogElement, current: Identity, text: NameDialogText, nameFixed = false): Promise<Identity | null> {
  const form = document.createElement('form')
  form.method = 'dialog'
  const heading = document.createElement('h2')
  heading.textContent = text.title
  const label = document.createElement('label')
  label.textContent = 'Your name'
  const input = document.createElement('input')
  input.name = 'name'
  input.value = current.name
  input.maxLength = maxDisplayNameLength
  input.autocomplete = 'name'
  input.required = true
  input.readOnly = nameFixed
  input.dataset.testid = 'name-input'
  label.append(input)
  const colors = document.createElement('fieldset')
  colors.className = 'colors'
  const legend = document.createElement('legend')
  const chosenName = document.createElement('span')
  chosenName.className = 'chosen-colour'
  chosenName.dataset.testid = 'chosen-colour'
  chosenName.textContent = colourName(current.color)
  legend.append('Your colour: ', chosenName)
  colors.append(legend, ...palette.map(({ light }) => swatch(light, light === current.color)))
  colors.addEventListener('change', () => {
    const color = new FormData(form).get('color')
    if (typeof color === 'string') chosenName.textContent = colourName(color)
  })
  const hint = document.createElement('p')
  hint.className = 'hint'
  hint.textContent = nameFixed ? 'Your link sets your name. Others see it next to your cursor.' : 'Others see this next to your cursor.'
  const buttons = document.createElement('div')
  buttons.className = 'dialog-buttons'
  // Only Save submits, so Enter in the name field saves.
  const cancel = button(text.cancel, 'button')
  cancel.addEventListener('click', () => dialog.close())
  const save = button('Save', 'submit')
  save.value = 'save'
  save.dataset.testid = 'name-save'
  save.className = 'primary'
  buttons.append(cancel, save)
  form.append(heading, label, colors, hint, buttons)
  dialog.replaceChildren(form)
  dialog.returnValue = ''
  dialog.showModal()
  if (nameFixed) save.focus()
  else input.select()
  return new Promise((resolve) => {
    const closed = (): void => {
      // The close event of an earlier opening, fired after this one began (reopened at once by keyboard).
      if (dialog.open) return
      dialog.removeEventListener('close', closed)
      const name = cleanDisplayName(input.value)
      const color = new FormData(form).get('color')
      if (dialog.returnValue !== 'save' || name === '') resolve(null)
      else resolve({ name, color: typeof color === 'string' ? color : current.color })
    }
    dialog.addEventListener('close', closed)
  })
}

/** A radio button for `color`, drawn as a round swatch in it and named in words. */
function swatch (color: string, checked: boolean): HTMLLabelElement {
  const label = document.createElement('label')
  label.className = 'swatch'
  paintPersonColour(label, color)
  label.title = colourName(color)
  const radio = document.createElement('input')
  radio.type = 'radio'
  radio.name = 'color'
  radio.value = color
  radio.checked = checked
  radio.setAttribute('aria-label', colourName(color))
  label.append(radio)
  return label
}

function button (text: string, type: 'button' | 'submit'): HTMLButtonElement {
  const element = document.createElement('button')
  element.type = type
  element.textContent = text
  return element
}
