/**
 * Room names from request URLs. A WebSocket upgrade on `/<room>` joins the
 * room `<room>` (URL-decoded), as with y-websocket's reference server; the
 * query string carries only options.
 */

/** Why a request path is not a room name; answered with HTTP 400. */
export class InvalidRoomNameError extends Error {
  override readonly name = 'InvalidRoomNameError'
}

/** Letters and digits of any script, and `- _ . ~ : @ + /` and space. */
const allowed = /^[\p{L}\p{N}\-_.~:@+/ ]+$/u

/**
 * Returns the room named by a request URL's path. Throws
 * `InvalidRoomNameError` for an empty, too long, badly encoded name or one
 * with other characters than letters, digits and `- _ . ~ : @ + /` and space.
 */
export function roomNameFromUrl (url: string, maxLength: number): string {
  const path = url.split('?', 1)[0]
  let name: string
  try {
    name = decodeURIComponent(path.slice(1))
  } catch {
    throw new InvalidRoomNameError('room name is not valid URL encoding')
  }
  if (name.length === 0) throw new InvalidRoomNameError('room name is empty')
  if (name.length > maxLength) throw new InvalidRoomNameError(`room name is longer than ${maxLength} characters`)
  if (!allowed.test(name)) throw new InvalidRoomNameError('room name may hold only letters, digits, space and - _ . ~ : @ + /')
  return name
}

/** The query parameters of a request URL. */
export function queryParams (url: string): URLSearchParams {
  const at = url.indexOf('?')
  return new URLSearchParams(at === -1 ? '' : url.slice(at + 1))
}
