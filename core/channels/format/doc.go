// Package format prepares the Markdown an agent writes for a messaging
// platform: Split cuts long replies into chunks under the platform's length
// limit at natural boundaries (without breaking fenced code), TelegramHTML
// renders Markdown in Telegram's HTML parse mode, and PlainText strips the
// markup for platforms without formatting.
//
// The Markdown dialect is the one chat models produce: ATX headings,
// emphasis, strikethrough, inline code, fenced code blocks, links, lists and
// blockquotes. Anything else passes through as text. Rendering never fails:
// markup that does not parse is shown literally.
package format
