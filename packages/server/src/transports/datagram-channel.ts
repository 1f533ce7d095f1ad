/**
 * What CoAP (and LwM2M on it) runs over: plain UDP (`coap/udp-channel.ts`) or DTLS
 * (`dtls/dtls-server.ts`). The CoAP stack sees datagrams and peers only; whether a peer was
 * authenticated by a handshake is in `secure`.
 */

/** How a DTLS handshake authenticated the peer, and whom the channel's authenticator resolved. */
export interface SecurePeer<P> {
  method: 'psk' | 'certificate';
  /** The PSK identity the client sent (method `psk`). */
  pskIdentity?: string;
  /** The client's leaf certificate, DER (method `certificate`). */
  certificateDer?: Buffer;
  /** What the channel's authenticator returned at handshake time (a DeviceIdentity for Hangar's device endpoints). */
  principal: P;
}

/**
 * Who sent a datagram. On UDP `key` is "address:port" ("[v6]:port"); over DTLS it names the
 * session and stays the same when the peer's address changes (RFC 9146 Connection ID), while
 * `address`/`port` are where the session's last authenticated record came from.
 */
export interface DatagramPeer<P = unknown> {
  address: string;
  port: number;
  key: string;
  secure?: SecurePeer<P>;
}

export type DatagramHandler<P> = (datagram: Buffer, peer: DatagramPeer<P>) => void;

export interface DatagramChannel<P = unknown> {
  /** Binds; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  readonly port: number | undefined;
  /** One handler; set before `listen`. It must not throw (the channel logs and drops if it does). */
  onDatagram(handler: DatagramHandler<P>): void;
  /** Sends one datagram (one DTLS record of application data); silently dropped when the peer's session has ended. */
  send(datagram: Buffer, peer: DatagramPeer<P>): void;
  /** Largest datagram payload `send` accepts for this peer (DTLS: PMTU minus record overhead). */
  maxPayload(peer: DatagramPeer<P>): number;
  close(): Promise<void>;
}
