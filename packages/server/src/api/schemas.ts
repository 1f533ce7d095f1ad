import { Type } from 'typebox';

/**
 * What the server adds to the wire schemas of `@hangar/protocol` when it declares its routes:
 * the error answers each route documents (RFC 9457 problem details, the `Problem` component).
 */
export const ErrorResponses = {
  400: Type.Ref('Problem'),
  401: Type.Ref('Problem'),
  403: Type.Ref('Problem'),
  404: Type.Ref('Problem'),
  409: Type.Ref('Problem'),
};
