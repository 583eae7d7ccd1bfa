// One colour per channel on every chart of the site, whatever channels a chart shows (Okabe-Ito: told apart by
// colour-blind readers too), keyed by the channel's id. A chart's series are the channels' names in words (the
// channels source, from the data package), so seriesColours maps each name to its channel's colour.
export const CHANNEL_COLOURS = {
	all: '#000000',
	online: '#0072B2',
	phone: '#E69F00',
	face_to_face: '#009E73',
	paper: '#CC79A7',
	assisted_digital: '#56B4E9',
	other: '#7F7F7F'
};

/** A chart's seriesColors for series named by channel: {name in words: colour}. */
export function seriesColours(channels) {
	return Object.fromEntries(Array.from(channels ?? [], (c) => [c.channel_name, CHANNEL_COLOURS[c.channel]]));
}
