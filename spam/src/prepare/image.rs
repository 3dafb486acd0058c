//! Image parts and their pixel sizes, as SpamAssassin 4.0.1's
//! Plugin/ImageInfo.pm reads them.
//!
//! An image is a leaf part of type image/gif, image/png, image/jpeg or
//! image/jpg whose Content-Transfer-Encoding is `base64`. Parts with any
//! other encoding are not images here, as in the Perl. The width and height
//! come from the first bytes of the decoded data, read with the Perl's own
//! rules, which differ from the file formats' specifications in places
//! (see `png_size` and `jpeg_size`).
//!
//! The header parsers read untrusted bytes. They return `None` for data
//! they cannot read, and each loop has a named limit. A property test and
//! the `image_size` fuzz target check that no input makes them panic.

use ringmail_protocols::message::{Content, Part};

use super::{decode, MIME_DEPTH_MAX, MIME_LEAVES_MAX};

/// Maximum base64 bytes of one image part that are decoded. The pixel size
/// sits in the first 30 bytes of a valid GIF or PNG file. In a JPEG file
/// it follows the metadata segments, each at most 64 KiB, and 1 MiB of
/// base64 is about 768 KiB of data.
///
/// NOTE: the limit is an estimate, not measured on real mail. A JPEG
/// whose metadata fills more than that has no size here, but has one in
/// SpamAssassin, which decodes the whole part.
pub const IMAGE_ENCODED_LEN_MAX: usize = 1024 * 1024;

/// Maximum JPEG segments skipped while looking for the frame header.
/// Real files have a few dozen before it.
pub const JPEG_SEGMENTS_MAX: usize = 4096;

/// Maximum 8-byte steps of the PNG chunk scan (see `png_size`). A valid
/// file has its IHDR chunk at the first step.
pub const PNG_STEPS_MAX: usize = 4096;

/// The image formats ImageInfo.pm reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Gif,
    Png,
    Jpeg,
}

impl ImageKind {
    /// Every kind, in the order `ImageKind::name` lists them.
    pub const ALL: [ImageKind; 3] = [ImageKind::Gif, ImageKind::Png, ImageKind::Jpeg];

    /// Returns the name rules use for this kind: `gif`, `png` or `jpeg`.
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Gif => "gif",
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpeg",
        }
    }

    /// Returns the kind of a media subtype (`gif`, `png`, `jpeg` or `jpg`,
    /// in any case), or `None` for any other subtype.
    pub fn from_subtype(subtype: &[u8]) -> Option<ImageKind> {
        let lower = subtype.to_ascii_lowercase();
        match lower.as_slice() {
            b"gif" => Some(ImageKind::Gif),
            b"png" => Some(ImageKind::Png),
            b"jpeg" | b"jpg" => Some(ImageKind::Jpeg),
            _ => None,
        }
    }

    /// Returns the width and height read from the start of the image data,
    /// or `None` when either is missing or zero.
    pub fn size(self, data: &[u8]) -> Option<ImageSize> {
        match self {
            ImageKind::Gif => gif_size(data),
            ImageKind::Png => png_size(data),
            ImageKind::Jpeg => jpeg_size(data),
        }
    }
}

/// A width and height in pixels, both above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

impl ImageSize {
    /// Returns the size when both sides are above zero, as ImageInfo.pm
    /// counts no area for an image with a zero side.
    fn nonzero(width: u32, height: u32) -> Option<ImageSize> {
        (width > 0 && height > 0).then_some(ImageSize { width, height })
    }

    /// Returns the area in pixels.
    pub fn area(self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// One image part: its kind, and its size when the header could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    pub kind: ImageKind,
    pub size: Option<ImageSize>,
}

/// Finds the image parts of `message`, in message order. Leaves beyond
/// `MIME_LEAVES_MAX` and containers deeper than `MIME_DEPTH_MAX` are not
/// visited, as in `Prepared`'s own walk.
pub fn find_images(message: &[u8], root: &Part) -> Vec<Image> {
    let mut walk = ImageWalk {
        message,
        leaves: 0,
        images: Vec::new(),
    };
    walk.visit(root, 0);
    walk.images
}

struct ImageWalk<'m> {
    message: &'m [u8],
    leaves: usize,
    images: Vec<Image>,
}

impl ImageWalk<'_> {
    fn visit(&mut self, part: &Part, depth: usize) {
        match &part.content {
            Content::Multipart(children) => {
                if depth >= MIME_DEPTH_MAX {
                    return;
                }
                for child in children {
                    self.visit(child, depth + 1);
                }
            }
            Content::Message(inner) => {
                if depth < MIME_DEPTH_MAX {
                    self.visit(inner, depth + 1);
                }
            }
            Content::Leaf => {
                if self.leaves >= MIME_LEAVES_MAX {
                    return;
                }
                self.leaves += 1;
                if let Some(image) = self.read_leaf(part) {
                    self.images.push(image);
                }
            }
        }
    }

    fn read_leaf(&self, part: &Part) -> Option<Image> {
        if !part.content_type.media_type.eq_ignore_ascii_case(b"image") {
            return None;
        }
        let kind = ImageKind::from_subtype(&part.content_type.subtype)?;
        if !part.encoding.trim_ascii().eq_ignore_ascii_case(b"base64") {
            return None;
        }
        let body = self.message.get(part.body.clone()).unwrap_or_default();
        let encoded = &body[..body.len().min(IMAGE_ENCODED_LEN_MAX)];
        let data = decode::base64(encoded);
        Some(Image {
            kind,
            size: kind.size(&data),
        })
    }
}

/// Length of the GIF header up to the end of the size. It contains the
/// signature, the version, then the width and height as 16-bit
/// little-endian numbers.
const GIF_SIZE_END: usize = 10;

/// Reads the size of a GIF image from its logical screen descriptor. The
/// data must start with `GIF87a` or `GIF89a`.
pub fn gif_size(data: &[u8]) -> Option<ImageSize> {
    let header = data.get(..GIF_SIZE_END)?;
    if !(header.starts_with(b"GIF87a") || header.starts_with(b"GIF89a")) {
        return None;
    }
    let width = u16::from_le_bytes([header[6], header[7]]);
    let height = u16::from_le_bytes([header[8], header[9]]);
    ImageSize::nonzero(u32::from(width), u32::from(height))
}

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Reads the size of a PNG image from its IHDR chunk.
///
/// As in ImageInfo.pm, the scan reads a chunk length and type every 8 bytes
/// from the end of the signature without skipping chunk data, and stops at
/// an `IEND` type or at an `IHDR` chunk of length 13. It reads the width and
/// height only when at least 12 bytes follow that chunk's type, because the
/// Perl cuts the last 4 bytes of what is there as the CRC before reading.
/// In a valid file IHDR is the first chunk, so the first step finds it.
pub fn png_size(data: &[u8]) -> Option<ImageSize> {
    if !data.starts_with(PNG_SIGNATURE) {
        return None;
    }
    let mut position = PNG_SIGNATURE.len();
    for _ in 0..PNG_STEPS_MAX {
        if position >= data.len() {
            return None;
        }
        let chunk = &data[position..data.len().min(position + 8)];
        position += 8;
        let chunk_type = chunk.get(4..).unwrap_or_default();
        if chunk_type == b"IEND" {
            return None;
        }
        let is_header = chunk.len() == 8 && chunk_type == b"IHDR" && chunk[..4] == [0, 0, 0, 13];
        if !is_header {
            continue;
        }
        // The 13 header bytes and the 4-byte CRC, as far as the data goes.
        let fields = data.get(position..).unwrap_or_default();
        let fields = &fields[..fields.len().min(17)];
        let fields = &fields[..fields.len().saturating_sub(4)];
        if fields.len() < 8 {
            return None;
        }
        let width = u32::from_be_bytes([fields[0], fields[1], fields[2], fields[3]]);
        let height = u32::from_be_bytes([fields[4], fields[5], fields[6], fields[7]]);
        return ImageSize::nonzero(width, height);
    }
    None
}

/// Returns whether a JPEG marker starts a frame header (SOF0 to SOF15,
/// less DHT, JPG and DAC), which contains the image size.
fn is_frame_marker(marker: u8) -> bool {
    matches!(marker, 0xc0..=0xc3 | 0xc5..=0xc7 | 0xc9..=0xcb | 0xcd..=0xcf)
}

/// Reads the size of a JPEG image from its first frame header.
///
/// As in ImageInfo.pm, every segment after the SOI marker is read as `FF`,
/// a marker byte and a 16-bit length. The scan stops at start of scan
/// (`DA`), end of image (`D9`), a byte other than `FF` or a length under
/// 2. Fill bytes and markers without a length are not handled.
pub fn jpeg_size(data: &[u8]) -> Option<ImageSize> {
    if !data.starts_with(b"\xff\xd8") {
        return None;
    }
    let mut position = 2;
    for _ in 0..JPEG_SEGMENTS_MAX {
        let segment = data.get(position..position + 4)?;
        let (marker, length) = (segment[1], u16::from_be_bytes([segment[2], segment[3]]));
        if segment[0] != 0xff || marker == 0xda || marker == 0xd9 || length < 2 {
            return None;
        }
        position += 4;
        let block_end = data.len().min(position + usize::from(length) - 2);
        let block = data.get(position..block_end).unwrap_or_default();
        if is_frame_marker(marker) {
            // Precision, then height and width as 16-bit big-endian numbers.
            let fields = block.get(1..5)?;
            let height = u16::from_be_bytes([fields[0], fields[1]]);
            let width = u16::from_be_bytes([fields[2], fields[3]]);
            return ImageSize::nonzero(u32::from(width), u32::from(height));
        }
        position += block.len();
    }
    None
}

/// Small real image files for tests, each 1 pixel by 1 pixel.
#[cfg(test)]
pub(crate) mod fixtures {
    /// A 1x1 GIF89a: header, a 2-colour table, a graphic control
    /// extension, the image descriptor, LZW data and the trailer.
    pub const GIF_1X1: &[u8] = &[
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
    ];

    /// A 1x1 RGBA PNG: signature, IHDR, one IDAT chunk and IEND.
    pub const PNG_1X1: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, // signature
        0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, // IHDR, length 13
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // width 1, height 1
        0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, // depth 8, RGBA, CRC
        0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, // IDAT, length 10
        0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
        0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82, // IEND
    ];

    /// The segments of a 1x1 baseline JPEG up to its frame header: SOI,
    /// a JFIF APP0 segment, a quantization table, then SOF0.
    pub const JPEG_1X1: &[u8] = &[
        0xff, 0xd8, // SOI
        0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x01, 0x00, 0x00, // APP0 "JFIF", version 1.1, 1:1 aspect
        0xff, 0xdb, 0x00, 0x05, 0x00, 0x01, 0x01, // DQT, cut to 3 bytes of table
        0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00, // SOF0
        0xff, 0xd9, // EOI
    ];
}

#[cfg(test)]
mod tests {
    use super::fixtures::{GIF_1X1, JPEG_1X1, PNG_1X1};
    use super::*;

    fn size(width: u32, height: u32) -> Option<ImageSize> {
        Some(ImageSize { width, height })
    }

    /// Returns `bytes` with `patch` written over it at `at`.
    fn patched(bytes: &[u8], at: usize, patch: &[u8]) -> Vec<u8> {
        let mut output = bytes.to_vec();
        output[at..at + patch.len()].copy_from_slice(patch);
        output
    }

    #[test]
    fn gif_size_table() {
        let cases: Vec<(&str, Vec<u8>, Option<ImageSize>)> = vec![
            ("gif_1x1", GIF_1X1.to_vec(), size(1, 1)),
            (
                "gif87a_264x127",
                patched(GIF_1X1, 3, b"87a\x08\x01\x7f\x00"),
                size(264, 127),
            ),
            (
                "gif_little_endian_65535",
                patched(GIF_1X1, 6, b"\xff\xff\x02\x00"),
                size(65535, 2),
            ),
            ("gif_version_90a", patched(GIF_1X1, 3, b"90a"), None),
            ("gif_zero_width", patched(GIF_1X1, 6, b"\x00\x00"), None),
            ("gif_zero_height", patched(GIF_1X1, 8, b"\x00\x00"), None),
            ("gif_header_cut_short", GIF_1X1[..9].to_vec(), None),
            (
                "gif_header_just_long_enough",
                GIF_1X1[..10].to_vec(),
                size(1, 1),
            ),
            ("gif_empty", Vec::new(), None),
        ];
        for (name, data, expected) in cases {
            assert_eq!(gif_size(&data), expected, "{name}");
        }
    }

    #[test]
    fn png_size_table() {
        let after_ihdr_type = 16;
        // A tEXt chunk (its CRC is not checked) before IHDR: with 5 bytes
        // of text it moves IHDR off the 8-byte steps of the scan, and with
        // 4 bytes it keeps IHDR on them.
        let text_5 = [
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\x05tEXta=bcdCRC!".as_slice(),
            &PNG_1X1[8..],
        ]
        .concat();
        let text_4 = [
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\x04tEXtab=cCRC!".as_slice(),
            &PNG_1X1[8..],
        ]
        .concat();
        let iend_first = [
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND".as_slice(),
            &PNG_1X1[8..],
        ]
        .concat();
        let cases: Vec<(&str, Vec<u8>, Option<ImageSize>)> = vec![
            ("png_1x1", PNG_1X1.to_vec(), size(1, 1)),
            (
                "png_640x480",
                patched(PNG_1X1, 16, &[0, 0, 2, 128, 0, 0, 1, 224]),
                size(640, 480),
            ),
            (
                "png_max_sides",
                patched(PNG_1X1, 16, &[0xff; 8]),
                size(u32::MAX, u32::MAX),
            ),
            ("png_zero_height", patched(PNG_1X1, 20, &[0, 0, 0, 0]), None),
            ("png_bad_signature", patched(PNG_1X1, 1, b"PNH"), None),
            ("png_ihdr_length_not_13", patched(PNG_1X1, 11, &[12]), None),
            ("png_ihdr_off_scan_steps", text_5, None),
            ("png_ihdr_on_scan_steps", text_4, size(1, 1)),
            ("png_iend_before_ihdr", iend_first, None),
            // The Perl reads the last 4 bytes there as the CRC, so the
            // header needs 12 bytes after its type.
            (
                "png_header_cut_short",
                PNG_1X1[..after_ihdr_type + 11].to_vec(),
                None,
            ),
            (
                "png_header_without_crc",
                PNG_1X1[..after_ihdr_type + 12].to_vec(),
                size(1, 1),
            ),
            ("png_signature_only", PNG_1X1[..8].to_vec(), None),
            ("png_empty", Vec::new(), None),
        ];
        for (name, data, expected) in cases {
            assert_eq!(png_size(&data), expected, "{name}");
        }
    }

    #[test]
    fn jpeg_size_table() {
        let sof_at = 27;
        let progressive = patched(JPEG_1X1, sof_at + 1, &[0xc2]);
        let sized = patched(JPEG_1X1, sof_at + 5, &[0x01, 0xe0, 0x02, 0x80]);
        let huffman_table = patched(JPEG_1X1, sof_at + 1, &[0xc4]);
        let start_of_scan = patched(JPEG_1X1, 20 + 1, &[0xda]);
        let short_length = patched(JPEG_1X1, 20 + 2, &[0x00, 0x01]);
        let no_marker_byte = patched(JPEG_1X1, 20, &[0x00]);
        let cases: Vec<(&str, Vec<u8>, Option<ImageSize>)> = vec![
            ("jpeg_1x1", JPEG_1X1.to_vec(), size(1, 1)),
            ("jpeg_progressive_sof2", progressive, size(1, 1)),
            ("jpeg_height_480_width_640", sized, size(640, 480)),
            ("jpeg_dht_is_not_a_frame", huffman_table, None),
            ("jpeg_scan_before_frame", start_of_scan, None),
            ("jpeg_segment_length_under_2", short_length, None),
            ("jpeg_segment_without_ff", no_marker_byte, None),
            (
                "jpeg_frame_cut_short",
                JPEG_1X1[..sof_at + 8].to_vec(),
                None,
            ),
            (
                "jpeg_frame_just_long_enough",
                JPEG_1X1[..sof_at + 9].to_vec(),
                size(1, 1),
            ),
            (
                "jpeg_segment_length_past_end",
                JPEG_1X1[..sof_at - 2].to_vec(),
                None,
            ),
            ("jpeg_soi_only", JPEG_1X1[..2].to_vec(), None),
            ("jpeg_bad_soi", patched(JPEG_1X1, 1, &[0xd9]), None),
        ];
        for (name, data, expected) in cases {
            assert_eq!(jpeg_size(&data), expected, "{name}");
        }
    }

    #[test]
    fn jpeg_segments_past_limit() {
        // Empty APP1 segments (length 2) before the frame header.
        let mut data = b"\xff\xd8".to_vec();
        for _ in 0..JPEG_SEGMENTS_MAX - 1 {
            data.extend_from_slice(b"\xff\xe1\x00\x02");
        }
        let frame = &JPEG_1X1[27..40];
        let within = [data.as_slice(), frame].concat();
        let beyond = [data.as_slice(), b"\xff\xe1\x00\x02", frame].concat();
        assert_eq!(jpeg_size(&within), size(1, 1));
        assert_eq!(jpeg_size(&beyond), None);
    }

    #[test]
    fn subtype_names() {
        let cases = [
            (b"gif".as_slice(), Some(ImageKind::Gif)),
            (b"PNG", Some(ImageKind::Png)),
            (b"jpeg", Some(ImageKind::Jpeg)),
            (b"jpg", Some(ImageKind::Jpeg)),
            (b"pjpeg", None),
            (b"bmp", None),
        ];
        for (subtype, expected) in cases {
            assert_eq!(ImageKind::from_subtype(subtype), expected, "{subtype:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn image_headers_never_panic(
            prefix in 0usize..4,
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            // A valid signature first, so that the parsers get past it.
            let signatures: [&[u8]; 4] = [b"", b"GIF89a", PNG_SIGNATURE, b"\xff\xd8"];
            let data = [signatures[prefix], tail.as_slice()].concat();
            for kind in ImageKind::ALL {
                if let Some(found) = kind.size(&data) {
                    proptest::prop_assert!(found.width > 0);
                    proptest::prop_assert!(found.height > 0);
                }
            }
        }
    }
}
