import QRCode from 'qrcode';

/**
 * A QR code as an SVG data URI, rendered on the server: the page needs no script (strict CSP) and the secret never
 * leaves Gatehouse for a third-party QR service.
 */
export async function qrCodeDataUri(text: string): Promise<string> {
  const svg = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}
