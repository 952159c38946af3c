/**
 * The check of the endpoints only an operator may use: with access control
 * on, a bearer token with write access to every document (doc `*`).
 */
import type { IncomingMessage } from 'node:http'
import { isOperator, TokenError, type TokenAuthority } from '../auth/tokens.js'
import { bearerToken } from '../transport/upgrade.js'
import { ApiError } from './api-errors.js'

/**
 * Resolves when `req` carries an operator token, or when `authority` is null
 * (the server runs open). Rejects with `ApiError` 'unauthorized' for a
 * missing or invalid token and 'forbidden' for any other token, after
 * calling `onRefused`.
 */
export async function requireOperator (authority: TokenAuthority | null, req: IncomingMessage, onRefused: () => void = () => {}): Promise<void> {
  if (!authority) return
  let operator: boolean
  try {
    operator = isOperator(await authority.verify(bearerToken(req.headers.authorization) ?? ''))
  } catch (err) {
    if (!(err instanceof TokenError)) throw err
    onRefused()
    throw new ApiError('unauthorized', err.message, { 'www-authenticate': 'Bearer' })
  }
  if (!operator) {
    onRefused()
    throw new ApiError('forbidden', 'this needs an operator token: write access to every document (doc "*")')
  }
}
